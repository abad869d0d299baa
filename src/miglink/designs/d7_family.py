"""D7 family history (claim 2, the record-based half).

Exposure: a recorded family history (OMOP observation, e.g. family_history_autoimmune); outcome:
the person's own condition (migraine, or any autoimmune disease). The stratified 2x2 table gives
the Mantel-Haenszel OR (as D1). Because whether a family history gets recorded depends on how
much care a person receives, as does the recording of any diagnosis, the same exposure is also
run against every negative-control outcome; their ORs form an empirical null (Schuemie et al.
2014) that calibrates the key estimate, and the calibrated CI is what the verdict reads.
"""

from __future__ import annotations

import pandas as pd

from miglink.calibrate import calibrate_group
from miglink.designs.d5_common import not_analysed
from miglink.designs.rows import finite
from miglink.designs.strata import stratified_counts, with_flag
from miglink.designs.twobytwo import estimate_2x2
from miglink.features.build import FeatureTables


def run(ft: FeatureTables, study, hyps) -> tuple[list[dict], pd.DataFrame | None]:
    """Rows per D7 hypothesis: key MH OR (calibrated), crude / logistic sensitivity, NC rows."""
    rows: list[dict] = []
    ncs = list(study.negative_controls)
    for _claim, h in hyps:
        if ft.observations is None:
            why = (
                "observation table absent"
                if not ft.available.get("observation")
                else "no family-history concept set resolved"
            )
            rows.append(
                not_analysed(h, "D7", "OR", why, f"{why}: family-history design (D7) cannot run")
            )
            continue
        n_fh = int(ft.observations.filter(ft.observations.set_id == h.exposure).count().execute())
        if n_fh == 0:
            why = f"no {h.exposure} records"
            rows.append(not_analysed(h, "D7", "OR", why, f"{why} in the observation table"))
            continue
        p = with_flag(ft.persons, ft.observations, h.exposure, "exposed")
        counts = stratified_counts(p, ft.conditions, "exposed", [h.outcome, *ncs])
        role = "descriptive" if h.expected == "descriptive" else "primary"
        by_outcome = dict(list(counts.groupby("outcome", sort=False)))
        key = estimate_2x2(
            by_outcome.get(h.outcome, counts.iloc[:0]),
            design="D7",
            exposure=h.exposure,
            outcome=h.outcome,
            role=role,
            analysis=h.id,
        )
        nc_rows = []
        for nc in ncs:
            r = estimate_2x2(
                by_outcome.get(nc, counts.iloc[:0]),
                design="D7",
                exposure=h.exposure,
                outcome=nc,
                role="negative_control",
                analysis=h.id,
                stratum=f"negative control {nc}",
                with_sensitivity=False,
            )[0]
            nc_rows.append(r)
        main = key[0]
        # The calibrated estimate is reported as a sensitivity row; the verdict reads the
        # stratified OR. Negative-control outcomes of a family-history exposure measure how
        # family-history recording tracks healthcare contact, which the utilisation strata
        # already absorb for migraine: calibrating on them over-corrects (measured in
        # synthetic data: null mean 0.15 while the migraine estimate's own bias is ~0).
        cal = dict(main)
        null = calibrate_group(nc_rows, [cal], min_controls=study.settings.min_negative_controls)
        if null["mean"] is not None and finite(main["log_estimate"]):
            cal.update(
                role="sensitivity",
                method="mantel_haenszel_nc_calibrated",
                note=(
                    f"calibrated on {null['n_controls']} negative-control outcomes of the same "
                    f"exposure (null mean {null['mean']:.3f}, sd {null['sd']:.3f})"
                ),
            )
            key.append(cal)
        else:
            main["note"] = (
                f"not calibrated: {null['n_controls']} estimable negative-control outcomes"
            )
        rows += key + nc_rows
    return rows, None
