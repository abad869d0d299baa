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

import math
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


def _dump(page: Path, profile: Path, extra: list[str] = ()) -> tuple[str, list[str]]:
    args = ["--enable-logging=stderr", "--v=0", *extra, "--dump-dom", page.as_uri()]
    proc = _chromium(args, profile)
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


# ---------------------------------------------------------------------------------------------
# one screenshot per section (issue 18 item 2)

#: measures every section's box once the DOM is ready (absolute page coordinates, CSS px)
RECTS = """<script>
document.addEventListener("DOMContentLoaded", function () {
  var out = [];
  document.querySelectorAll("section[id]").forEach(function (s) {
    var r = s.getBoundingClientRect();
    out.push([s.id, r.top + window.scrollY, r.height]);
  });
  var el = document.createElement("pre");
  el.id = "__rects"; el.hidden = true;
  el.textContent = JSON.stringify({height: document.documentElement.scrollHeight, sections: out});
  document.body.appendChild(el);
});
</script>"""

WIDTH = 1280
#: device pixels per CSS pixel of the screenshots: 0.75 keeps text legible and takes about half
#: the time of 1.0 on a 30,000 px page (PNG encoding dominates)
SCALE = 0.75
#: the sections every report has (claims 1-9 of the default study)
SECTIONS = ["headline", "summary", *(f"claim-{i}" for i in range(1, 10))] + [
    "attrition",
    "calibration",
    "data-quality",
    "methods",
    "software",
    "artefacts",
]


def section_screenshots(html: str, tmp_path: Path) -> tuple[dict[str, Path], list[str]]:
    """A PNG per section id, and the page's errors / refused requests.

    Two Chromium runs: ``--dump-dom`` of the instrumented copy gives the errors and every
    section's box; ``--screenshot`` of the report itself (no script) at the page's full height
    gives the pixels, cropped per box with Pillow. Both lay the page out at the same width
    (``SCALE`` changes the pixels per CSS pixel, not the layout).
    """
    import json

    from PIL import Image

    page = tmp_path / "instrumented.html"
    page.write_text(_instrument(html, RECTS), encoding="utf-8")
    # measured at the screenshot's scale: a fractional scale rounds text lines differently, and
    # over a 30,000 px page the boxes would drift by a line or two
    scale = [f"--window-size={WIDTH},1000", f"--force-device-scale-factor={SCALE}"]
    dom, problems = _dump(page, tmp_path / "profile", scale)
    m = re.search(r'<pre id="__rects" hidden="">(.*?)</pre>', dom, re.S)
    assert m, "the section boxes were not measured"
    boxes = json.loads(m.group(1))
    height = int(boxes["height"]) + 1
    assert height < 60_000, f"page too tall to screenshot in one piece: {height}px"
    plain = tmp_path / "report.html"
    plain.write_text(html, encoding="utf-8")
    full = tmp_path / "full.png"
    proc = _chromium(
        [
            f"--window-size={WIDTH},{height}",
            f"--force-device-scale-factor={SCALE}",
            f"--screenshot={full}",
            plain.as_uri(),
        ],
        tmp_path / "profile",
    )
    assert full.exists(), proc.stderr[-2000:]
    shots: dict[str, Path] = {}
    out = tmp_path / "sections"
    out.mkdir()
    with Image.open(full) as im:
        w, h_px = im.size
        assert abs(w - WIDTH * SCALE) <= 1 and abs(h_px - height * SCALE) <= 2, im.size
        for sid, top, h in boxes["sections"]:
            box = (0, int(top * SCALE), w, min(h_px, int(math.ceil((top + h) * SCALE))))
            shots[sid] = out / f"{sid}.png"
            im.crop(box).save(shots[sid], compress_level=1)
    return shots, problems


def _assert_drawn(png: Path) -> None:
    """A real picture of a section: PNG, not blank (text and rules give many grey levels)."""
    from PIL import Image

    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as im:
        assert im.size[1] >= 40, (png.name, im.size)
        grey = im.convert("L")
        lo, hi = grey.getextrema()
        assert hi - lo > 100, f"{png.name} looks blank"
        assert len(grey.getcolors(maxcolors=256 * 256) or range(257)) > 8, png.name


def test_screenshot_per_section_without_console_errors(report_html, tmp_path):
    shots, problems = section_screenshots(report_html, tmp_path)
    assert problems == []
    for sid in SECTIONS:
        assert sid in shots, f"section {sid} missing from the page"
        _assert_drawn(shots[sid])
    keep = Path(__file__).resolve().parents[2] / ".pytest_cache" / "report-sections"
    if keep.parent.exists():
        keep.mkdir(exist_ok=True)
        for png in shots.values():
            shutil.copyfile(png, keep / png.name)


def test_pooled_report_screenshot_per_section(pooled_run, tmp_path):
    html = (pooled_run / "report.html").read_text(encoding="utf-8")
    shots, problems = section_screenshots(html, tmp_path)
    assert problems == []
    for sid in [*SECTIONS, "sites"]:
        assert sid in shots, f"section {sid} missing from the pooled report"
        _assert_drawn(shots[sid])
