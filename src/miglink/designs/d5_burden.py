"""D5 burden (descriptive): among people with migraine, with and without autoimmune disease, the
share with NSAID use and with medication-overuse headache."""

from __future__ import annotations

import ibis
import pandas as pd

from miglink.designs.base import Task, key_row
from miglink.designs.rows import make_row
from miglink.features.build import ANY_AUTOIMMUNE, FeatureTables
from miglink.stats.proportion import binomial_share


def burden_counts(ft: FeatureTables, task: Task) -> pd.DataFrame:
    """Persons with migraine by both (autoimmune disease too: 1/0) x nsaid (0/1): n, and moh (the
    number with a medication-overuse headache record). Without drug table nsaid is 0 for all."""
    idx = ft.settings.index_set
    C, D = ft.conditions, ft.drugs
    mig = C.filter(C.set_id == idx).select(pid=C.person_id)
    ai = C.filter(C.set_id == ANY_AUTOIMMUNE).select(apid=C.person_id)
    moh = C.filter(C.set_id == task.outcome).select(mpid=C.person_id)
    t = mig.left_join(ai, mig.pid == ai.apid).left_join(moh, mig.pid == moh.mpid)
    t = t.mutate(both=t.apid.notnull().cast("int64"), has_moh=t.mpid.notnull().cast("int64"))
    if D is not None:
        ns = D.filter(D.set_id == task.exposure).select(npid=D.person_id).distinct()
        t = t.left_join(ns, t.pid == ns.npid).mutate(nsaid=ibis._.npid.notnull().cast("int64"))
    else:
        t = t.mutate(nsaid=ibis.literal(0, "int64"))
    return t.group_by(["both", "nsaid"]).aggregate(n=t.pid.count(), moh=t.has_moh.sum()).execute()


def burden_rows(g: pd.DataFrame, task: Task, drugs_present: bool) -> list[dict]:
    """Six share rows; the key row is the MOH share among people with both conditions."""
    rows = []

    def share(k, n, label, key, note):
        e = binomial_share(int(k), int(n)) if n > 0 else None
        row = make_row(
            design=task.design,
            exposure=task.exposure,
            outcome=task.outcome,
            measure="share",
            method="binomial_share",
            est=e,
            role=task.role if key else "descriptive",
            stratum=label,
            analysis=task.analysis,
            n_exposed=int(n),
            events_exposed=int(k),
            note=note,
        )
        rows.append(key_row(row, task) if key else row)

    nsaid_note = (
        "share of persons with an NSAID record" if drugs_present else "drug_exposure absent"
    )
    for both, label in ((1, "migraine and autoimmune disease"), (0, "migraine only")):
        s = g[g["both"] == both]
        n = int(s["n"].sum())
        moh_note = "share of persons with a medication-overuse headache record"
        share(s["moh"].sum(), n, f"{label}: medication-overuse headache", both == 1, moh_note)
        share(s.loc[s["nsaid"] == 1, "n"].sum(), n, f"{label}: NSAID use", False, nsaid_note)
        nn = s[s["nsaid"] == 1]
        share(
            nn["moh"].sum(),
            int(nn["n"].sum()),
            f"{label}, NSAID users: medication-overuse headache",
            False,
            "",
        )
    return rows
