"""No secret in any artefact: a data-source description loses URL credentials, query strings,
fragments and ``password=...``-style pairs before it is written or shown."""

from __future__ import annotations

import re

REDACTED = "[redacted]"

# scheme://[userinfo@]host[:port][/path][?query][#fragment]
_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/\s?#@'\"]*@)?"
    r"(?P<rest>[^\s?#'\"]*)(?P<query>\?[^\s#'\"]*)?(?P<frag>#[^\s'\"]*)?"
)
_PAIR = re.compile(
    r"(?i)\b(password|passwd|pwd|pass|token|secret|api[_-]?key|access[_-]?key|auth)"
    r"(\s*[=:]\s*)('[^']*'|\"[^\"]*\"|[^\s;&,'\"]+)"
)


def redact_secrets(text: object) -> str:
    """``text`` with every URL reduced to scheme, host, port and path, and every secret-looking
    ``key=value`` pair's value replaced; a description only needs to say *which* source."""
    if text is None:
        return ""
    s = str(text)

    def _url(m: re.Match) -> str:
        host_path = m.group("rest")
        tail = f" ({REDACTED} query)" if m.group("query") and len(m.group("query")) > 1 else ""
        return f"{m.group('scheme')}{host_path}{tail}"

    s = _URL.sub(_url, s)
    return _PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", s)
