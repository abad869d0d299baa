"""Free text may carry no suppressed count: integers in a text that equal one are redacted."""

from __future__ import annotations

import re
from collections.abc import Iterable

#: A whole integer token (not part of a decimal, a word or a longer number).
_INT = re.compile(r"(?<![\w.])\d+(?![\w]|\.\d)")

REDACTED = "[withheld]"


def scan_text(value: object, suppressed_values: Iterable[object]) -> str:
    """``value`` as text with every integer equal to a suppressed count replaced by ``[withheld]``.

    The last check of the gate: notes are built without counts, but a text that names one (say
    "2 exposed cases" beside ``n_exposed = <5``) must not undo the suppression.
    """
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = str(value)
    hidden = set()
    for v in suppressed_values:
        try:
            f = float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if f == f and f == int(f):
            hidden.add(int(f))
    if not hidden:
        return text
    return _INT.sub(lambda m: REDACTED if int(m.group(0)) in hidden else m.group(0), text)
