"""Issue 18's bar on real data: the report of Eunomia GiBleed and of the MIMIC-IV demo (OMOP)
has every section, opens in Chromium without an error, and says why claims cannot be answered.

Each dataset runs once (the whole default study, about 20-25 s each on two cores); skipped when
../shared/data lacks it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .test_browser import CHROMIUM, SECTIONS, _dump, _instrument

pytestmark = pytest.mark.slow

DATASETS = {"eunomia-gibleed": "eunomia-gibleed", "mimic-iv-demo-omop": "mimic-iv-demo-omop"}


@pytest.fixture(scope="module", params=list(DATASETS), ids=list(DATASETS))
def real_report(request, shared_data, tmp_path_factory) -> tuple[str, Path]:
    from miglink.study import run_study

    path = shared_data / DATASETS[request.param]
    if not path.exists():
        pytest.skip(f"dataset not found: {path}")
    out = tmp_path_factory.mktemp(request.param) / "out"
    run_study(path, out, report=True)
    return request.param, out


def test_real_report_has_every_section(real_report, tmp_path):
    name, out = real_report
    html = (out / "report.html").read_text(encoding="utf-8")
    ids = re.findall(r'<section[^>]*\bid="([^"]+)"', html)
    for sid in SECTIONS:
        assert sid in ids, f"{name}: section {sid} missing"
    head = re.search(r'<section id="headline">(.*?)</section>', html, re.S).group(1)
    # the persons are shown as a number (both datasets have enough persons in every cell)
    assert re.search(r"<dt>Persons</dt><dd>[\d,]+</dd>", head), name
    # thin data: most claims cannot be answered, and the banner says why in words
    assert html.count('class="banner banner-cannot"') >= 3, name
    assert "not_estimable" not in " ".join(re.findall(r'<div class="banner.*?</div>', html, re.S))
    # attrition.parquet has cohorts on both: drawn as diagrams
    assert 'class="attrition-diagram"' in html, name
    # links only to files beside the report
    links = re.findall(
        r'<a href="([^"#]+)">', re.search(r'id="artefacts">(.*?)</section>', html, re.S).group(1)
    )
    assert "results.csv" in links and all((out / h).is_file() for h in links), name
    # run.json's headline record: gated like every count (0 or at least the minimum cell)
    rec = json.loads((out / "run.json").read_text(encoding="utf-8"))["headline"]
    for k in ("persons", "persons_index", "persons_any_autoimmune"):
        v = rec[k]
        assert (isinstance(v, int) and (v == 0 or v >= 5)) or v in ("<5", "not shown"), (k, v)
    if CHROMIUM.exists():
        page = tmp_path / "report.html"
        page.write_text(_instrument(html), encoding="utf-8")
        _, problems = _dump(page, tmp_path / "profile")
        assert problems == [], name
