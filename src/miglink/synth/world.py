"""What is the same for every chunk: hazard grids, code tables and the planted effects."""

from __future__ import annotations

import numpy as np

from miglink.synth import catalogue as cat
from miglink.synth.scenario import Scenario
from miglink.synth.timescale import AGES
from miglink.synth.vocab import Code, Vocab


def hazard_grid(d: cat.Disease) -> np.ndarray:
    """Cumulative hazard at integer ages for (women, men): shape (2, len(AGES))."""
    mid = AGES[:-1] + 0.5
    if d.shape[0] == "bump":
        h = np.exp(-0.5 * ((mid - d.shape[1]) / d.shape[2]) ** 2) + 1e-3
    else:
        h = np.exp(d.shape[1] * (mid - 80.0)) + 1e-4
    h = h / h[:80].sum() * d.cum80
    hw = np.concatenate([[0.0], np.cumsum(h)])
    return np.stack([hw, hw / d.female_ratio])


class World:
    """Grids, code tables and effects, built once from the scenario and the vocabulary."""

    def __init__(self, scenario: Scenario, vocab: Vocab) -> None:
        self.scenario = scenario
        self.vocab = vocab
        self.coupled = cat.COUPLED
        self.ck = {d.key: i for i, d in enumerate(self.coupled)}
        self.indep = cat.independent_diseases()
        self.grid_c = np.stack([hazard_grid(d) for d in self.coupled])  # (K, 2, A)
        self.grid_i = np.stack([hazard_grid(d) for d in self.indep])  # (J, 2, A)
        self.ai_idx = np.array([self.ck[k] for k in cat.AUTOIMMUNE_KEYS])
        self.is_ai = np.array([d.autoimmune for d in self.coupled])
        self._condition_codes(vocab)
        self.i_detect = np.array([d.detect for d in self.indep])
        self.i_resolve = np.array([np.inf if d.resolve is None else d.resolve for d in self.indep])
        self.i_repeat = np.array([d.repeat if d.resolve is None else 0.0 for d in self.indep])
        self.sub_share = np.array([s for _, s, *_ in cat.MIGRAINE_SUBTYPES])
        self.aura = 1  # index of migraine_with_aura in MIGRAINE_SUBTYPES
        self.without_aura = 2
        self.effects = []
        for e in scenario.hazard_effects():
            src = "migraine" if e.from_.startswith("migraine_") else e.from_
            sub = {"migraine_with_aura": 1, "migraine_without_aura": 2}.get(e.from_, -1)
            self.effects.append((self.ck[src], sub, self.ck[e.to], e.hr(True), e.hr(False), e))
        self.ingr = list(vocab.ingredient)
        self.ingr_idx = {k: i for i, k in enumerate(self.ingr)}
        self.drug_sets = [s for *_, s in cat.INGREDIENTS]
        self.set_names = list(dict.fromkeys(self.drug_sets))

    def _condition_codes(self, vocab: Vocab) -> None:
        """The condition code table: every code a condition row can carry, and where each starts."""
        codes: list[Code] = []
        self.code_of: dict[tuple[str, int], int] = {}
        for key, lst in vocab.disease_codes.items():
            for j, c in enumerate(lst):
                self.code_of[(key, j)] = len(codes)
                codes.append(c)
        for key, c in vocab.migraine_codes.items():
            self.code_of[("migraine:" + key, 0)] = len(codes)
            codes.append(c)
        for key, c in vocab.extra_codes.items():  # empty unless a mechanism added codes
            self.code_of[(key, 0)] = len(codes)
            codes.append(c)
        self.cond_codes = codes
        self.n_codes_c = np.array([len(vocab.disease_codes[d.key]) for d in self.coupled])
        self.first_code_c = np.array([self.code_of[(d.key, 0)] for d in self.coupled])
        self.n_codes_i = np.array([len(vocab.disease_codes[d.key]) for d in self.indep])
        self.first_code_i = np.array([self.code_of[(d.key, 0)] for d in self.indep])
        self.sub_code = np.array(
            [self.code_of[("migraine:" + k, 0)] for k, *_ in cat.MIGRAINE_SUBTYPES]
        )
