"""The report in a real browser: headless Chromium opens it offline, logs no error, makes no
network request, shows nine claims in the summary and takes a screenshot.

Method: a copy of the report gets a tiny collector script injected at the top of <head> (the
report itself has no script). The copy's Content-Security-Policy is the report's, plus inline
script for the collector; every request is still refused by ``default-src 'none'`` and each
refusal fires a ``securitypolicyviolation`` event. The collector writes window errors, console
errors and those violations into a hidden element, and ``--dump-dom`` prints the final DOM.
A control test plants an error and a network request to prove the harness catches both.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from miglink.report import render_report

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium not installed (Debian package 'chromium'; `make test` installs it)",
)

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--virtual-time-budget=3000",
]

COLLECTOR = """<script>
(function () {
  var log = [];
  function put(kind, msg) {
    log.push(kind + ": " + msg);
    var el = document.getElementById("__errors");
    if (el) { el.textContent = log.join("\\n"); }
  }
  window.addEventListener("error", function (e) {
    var t = e.target;
    put("error", e.message || (t && (t.src || t.href)) || "resource error");
  }, true);
  window.addEventListener("unhandledrejection", function (e) { put("rejection", String(e.reason)); });
  document.addEventListener("securitypolicyviolation", function (e) {
    put("csp", e.violatedDirective + " " + e.blockedURI);
  });
  var ce = console.error;
  console.error = function () {
    put("console", Array.prototype.join.call(arguments, " "));
    return ce.apply(console, arguments);
  };
  document.addEventListener("DOMContentLoaded", function () {
    var el = document.createElement("pre");
    el.id = "__errors"; el.hidden = true; el.textContent = log.join("\\n");
    document.body.appendChild(el);
    var done = document.createElement("i");
    done.id = "__loaded"; done.hidden = true;
    document.body.appendChild(done);
  });
})();
</script>"""

TEST_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"
)


def _instrument(html: str, extra_body: str = "") -> str:
    csp = re.compile(r'(<meta http-equiv="Content-Security-Policy" content=")[^"]*(")')
    assert csp.search(html), "the report lost its Content-Security-Policy"
    html = csp.sub(lambda m: m.group(1) + TEST_CSP + m.group(2), html, count=1)
    html = html.replace("<head>", "<head>\n" + COLLECTOR, 1)
    return html.replace("</body>", extra_body + "</body>", 1)


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _dump(page: Path, profile: Path) -> tuple[str, list[str]]:
    proc = _chromium(["--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()], profile)
    dom = proc.stdout
    assert 'id="__loaded"' in dom, f"page did not load: rc={proc.returncode}\n{proc.stderr[-2000:]}"
    m = re.search(r'<pre id="__errors" hidden="">(.*?)</pre>', dom, re.S)
    collected = [line for line in (m.group(1) if m else "").splitlines() if line.strip()]
    # Chromium's own log of console messages is a second witness.
    console = [
        line
        for line in proc.stderr.splitlines()
        if "CONSOLE" in line and ("Uncaught" in line or "Refused" in line or "ERROR" in line)
    ]
    return dom, collected + console


@pytest.fixture(scope="module")
def report_html(tmp_path_factory, make_run) -> str:
    run = make_run(tmp_path_factory.mktemp("browser") / "run")
    return render_report(run).read_text(encoding="utf-8")


def test_report_opens_offline_without_errors_or_requests(report_html, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(_instrument(report_html), encoding="utf-8")
    dom, problems = _dump(page, tmp_path / "profile")
    assert problems == []
    assert len(re.findall(r'<tr class="summary-row" data-claim="\d+">', dom)) == 9
    assert dom.count("<svg") >= 20


def test_screenshot(report_html, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(report_html, encoding="utf-8")
    shot = tmp_path / "report.png"
    proc = _chromium(
        ["--window-size=1280,2200", f"--screenshot={shot}", page.as_uri()], tmp_path / "profile"
    )
    assert shot.exists(), proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 2200)
    assert len(data) > 50_000  # a blank page compresses to a few kB
    keep = Path(__file__).resolve().parents[2] / ".pytest_cache" / "report-screenshot.png"
    if keep.parent.exists():
        shutil.copyfile(shot, keep)


def test_prints_to_pdf(report_html, tmp_path):
    """Smoke test of the print path (A4, print CSS): Chromium writes a multi-page PDF."""
    page = tmp_path / "report.html"
    page.write_text(report_html, encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    proc = _chromium(
        ["--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()], tmp_path / "profile"
    )
    assert pdf.exists(), proc.stderr[-2000:]
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-"
    # The page tree's root /Count is the page total; the print CSS starts each claim on a page.
    pages = max(int(n) for n in re.findall(rb"/Count (\d+)", data))
    assert pages >= 10


def test_harness_catches_errors_and_requests(report_html, tmp_path):
    """Control: a planted script error and a planted network request are both reported."""
    planted = (
        '<img alt="" src="http://127.0.0.1:9/pixel.png">'
        "<script>console.error('planted console error'); undefined_function();</script>"
    )
    page = tmp_path / "report.html"
    page.write_text(_instrument(report_html, planted), encoding="utf-8")
    _, problems = _dump(page, tmp_path / "profile")
    text = "\n".join(problems)
    assert "planted console error" in text
    assert "undefined_function" in text
    assert "127.0.0.1:9" in text
