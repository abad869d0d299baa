"""Set ids a study may name that no concept-set file defines: built from other sets."""

from __future__ import annotations

#: Composites of the study's autoimmune lists (features.build.derived_groups).
ANY_AUTOIMMUNE = "any_autoimmune"
CNS_AUTOIMMUNE = "cns_autoimmune"
NON_CNS_AUTOIMMUNE = "non_cns_autoimmune"
#: Every derived id: the composites, D3's sex flag and D5's new-user drug group.
DERIVED = frozenset(
    {ANY_AUTOIMMUNE, CNS_AUTOIMMUNE, NON_CNS_AUTOIMMUNE, "female", "immunomodulators"}
)
