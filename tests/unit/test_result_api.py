"""The Python API's result object (issue 18 item 3): gated by default, the ungated tables only on
an explicit opt-in, summary lines, an escaped notebook display, plots from the gated tables, and a
written run directory loaded into an equal object.

One small world (3 000 synthetic persons, seed 11) and a one-claim study (two D1 hypotheses, one
D2), run once (~7 s on a quiet machine); the default call reuses that run's StudyRun."""

from __future__ import annotations

import copy
import math
from importlib import resources

import pandas as pd
import pytest
import yaml

from miglink.errors import MiglinkError
from miglink.privacy.spec import min_cell_columns
from miglink.result import StudyResult, load_result

MIN_CELL = 5
ALPHA = 0.1
TITLE = "Migraine & SLE <b>or</b> RA"
CLAIM = {
    "id": 3,
    "title": TITLE,
    "statement": "Migraine is more common in lupus and rheumatoid arthritis.",
    "rule": "majority",
    "hypotheses": [
        {"id": "h3_sle", "text": "SLE", "design": "D1", "exposure": "migraine", "outcome": "sle"},
        {"id": "h3_ra", "text": "RA", "design": "D1", "exposure": "migraine",
         "outcome": "rheumatoid_arthritis"},
        {"id": "h3_sle_incident", "text": "SLE incident", "design": "D2", "exposure": "sle",
         "outcome": "migraine"},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(trusted result of a run writing ``out``, out, the data, the study file)."""
    from miglink import run_study
    from miglink.synth import generate

    base = tmp_path_factory.mktemp("api")
    generate(persons=3_000, seed=11, out=base / "cdm")
    text = (resources.files("miglink") / "data" / "study.yaml").read_text(encoding="utf-8")
    study = yaml.safe_load(text)
    study.pop("comparisons", None)
    study["claims"] = [CLAIM]
    # a 90% level: the object must be gated at the run's level, as the files are (curve bands)
    study["settings"]["alpha"] = ALPHA
    (base / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    kw = {"study": base / "study.yaml", "report": False, "resume": False, "min_cell": MIN_CELL}
    trusted = run_study(base / "cdm", base / "run", trusted=True, **kw)
    return trusted, base / "run", base / "cdm", base / "study.yaml"


@pytest.fixture
def default(world, monkeypatch):
    """run_study with its defaults on the same run (the engine's StudyRun reused: no second
    computation)."""
    import miglink.study
    from miglink import run_study

    trusted, _, cdm, study = world
    monkeypatch.setattr(miglink.study, "_run", lambda *a, **k: trusted._ungated)
    return run_study(cdm, study=study, min_cell=MIN_CELL)


def _small(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < MIN_CELL


def test_results_are_gated_by_default_and_ungated_only_on_opt_in(world, default):
    trusted = world[0]
    assert isinstance(default, StudyResult) and not default.trusted
    with pytest.raises(MiglinkError, match="trusted=True"):
        default.ungated("results")
    raw = trusted.ungated("results")
    counts = [c for c in min_cell_columns("results") if c in raw.columns]
    small = [(i, c) for c in counts for i, v in raw[c].items() if _small(v)]
    assert small, "the world must hold a count below the minimum cell size"
    for table in (default.results, trusted.results):
        assert not any(_small(v) for c in counts for v in table[c])
        for i, c in small:
            assert table.loc[i, c] in (f"<{MIN_CELL}", None) or pd.isna(table.loc[i, c])
    for name in ("curves", "attrition", "prevalence"):  # every table of the object is gated
        table = getattr(default, name)
        cols = [c for c in min_cell_columns(name) if c in table.columns]
        assert cols and not any(_small(v) for c in cols for v in table[c]), name
        raw_t = trusted.ungated(name)
        assert len(table) == 0 or not raw_t.equals(table)
    # the gated tables do not depend on the opt-in
    assert default.equals(trusted)
    assert "UNGATED" in repr(trusted) and "UNGATED" not in repr(default)


def test_summary_one_line_per_claim_with_calibrated_key_estimate(world):
    res = world[0]
    s = res.summary()
    assert list(s["claim"]) == [3] and s.loc[0, "title"] == TITLE
    claim = res.claims[0]
    assert s.loc[0, "verdict"] == claim["verdict"]
    n = claim["n_voting"]
    assert s.loc[0, "k_of_n"].endswith(f" of {n}")
    row = res.results[(res.results.hypothesis == "h3_ra")].iloc[0]
    assert math.isfinite(row["cal_estimate"])  # D1 is calibrated on this world
    text = (
        f"h3_ra: {row['measure']} {row['cal_estimate']:.2f} (calibrated 90% CI "
        f"{row['cal_ci_low']:.2f}-{row['cal_ci_high']:.2f})"
    )
    assert text in s.loc[0, "key_estimates"]
    # a hypothesis whose estimate the gate withheld shows none, and says why
    hyps = res.hypotheses().set_index("hypothesis")
    assert hyps.loc["h3_sle", "key_estimate"] == "" and "withheld" in hyps.loc["h3_sle", "note"]


def test_repr_html_escapes(default):
    page = default._repr_html_()
    assert "Migraine &amp; SLE &lt;b&gt;or&lt;/b&gt; RA" in page
    assert "<b>or</b>" not in page
    assert page.count("<table>") == 2 and "h3_sle_incident" in page


def test_plots_return_figures_with_one_row_line_point_each(world):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from miglink.plots import (
        calibration_points,
        km_analyses,
        plot_calibration,
        plot_forest,
        plot_km,
    )

    res = world[0]
    fig = plot_forest(res, claim=3)
    assert isinstance(fig, Figure)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == 3 and labels[0].startswith("h3_sle (")  # first hypothesis on top

    analysis = km_analyses(res)[0]
    cur = res.curves[res.curves.analysis == analysis]
    groups = cur[pd.to_numeric(cur.survival, errors="coerce").notna()]["group"].nunique()
    fig = plot_km(res, analysis)
    assert isinstance(fig, Figure) and len(fig.axes[0].get_lines()) == groups

    pts = calibration_points(res, "D1")
    controls = res.calibration["D1"]["controls"]
    assert 0 < len(pts) < len(controls)  # some controls are withheld by the gate: not drawn
    fig = plot_calibration(res, "D1")
    scatter = fig.axes[0].collections[0]
    assert isinstance(fig, Figure) and len(scatter.get_offsets()) == len(pts)
    # a collapsed null is named as the report names it (this world's D1 null: sd 0.0003)
    from miglink.report.calibration_view import degenerate

    sd = res.calibration["D1"].get("sd")
    title = fig.axes[0].get_title()
    assert ("degenerate null" in title) == degenerate(sd), (sd, title)
    with pytest.raises(MiglinkError, match="no calibration group"):
        plot_calibration(res, "D9")


def test_load_result_equals_the_in_memory_object(world):
    res, out = world[:2]
    loaded = load_result(out)
    assert loaded.equals(res) and res.equals(loaded)
    assert loaded.out == out and loaded.database_id == res.database_id == "cdm"
    assert loaded.alpha == res.alpha == ALPHA and res.level == 90
    assert not loaded.trusted
    with pytest.raises(MiglinkError):
        loaded.ungated()
    # the comparison can fail: one changed cell, one changed summary
    other = copy.copy(loaded)
    other.results = loaded.results.copy()
    other.results.loc[other.results.index[0], "verdict"] = "supported!"
    assert not other.equals(res)
    other = copy.copy(loaded)
    other.claims = copy.deepcopy(loaded.claims)
    other.claims[0]["summary"] = "x"
    assert not other.equals(res)


def test_km_without_published_points_says_so_and_unknown_analysis_is_refused():
    pytest.importorskip("matplotlib")
    from miglink.plots import plot_km

    empty = StudyResult(results=pd.DataFrame(), claims=[])
    fig = plot_km(empty)
    assert "no curve of this run has a published point" in fig.axes[0].texts[0].get_text()
    with pytest.raises(MiglinkError, match="no curves for analysis"):
        plot_km(empty, "d2__sle__migraine")


def test_the_object_is_gated_at_the_runs_level(world, monkeypatch):
    """The gate recomputes curve bands at the current level (miglink.privacy.curves): run_study
    must gate the object under the study's alpha, as write_run gates the files."""
    import miglink.study
    from miglink import run_study
    from miglink.stats import level

    trusted, _, cdm, study = world
    seen = []
    real = StudyResult.from_run.__func__

    def spy(cls, run, **kw):
        seen.append(level.alpha())
        return real(cls, run, **kw)

    monkeypatch.setattr(miglink.study, "_run", lambda *a, **k: trusted._ungated)
    monkeypatch.setattr(StudyResult, "from_run", classmethod(spy))
    run_study(cdm, study=study, min_cell=MIN_CELL)
    assert seen == [ALPHA]
