"""How a data source is named in every artefact, log, message and progress line.

A connection URL can carry secrets in three places: the userinfo (``user:password@``), the query
string (``?password=...&sslkey=...``) and driver-specific ``;key=value`` tails (JDBC / ODBC). The
description keeps only what tells a reader *which* database was analysed - scheme, host, port and
path (database / schema) - so run.json, run.log, report.html and site_results.json, which are
made to be shared, never hold a credential.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, unquote

#: scheme://...: letters, digits, '+', '-', '.' (RFC 3986), e.g. postgresql+psycopg://
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_TAIL = re.compile(r"[?#;]")
#: 'user:password@' anywhere in a string that is not a URL
_USERINFO = re.compile(r"[^\s/:@]*:[^\s@]+@")


def is_url(value: object) -> bool:
    return isinstance(value, str) and bool(_URL.match(value))


def describe_source(url_or_path: object) -> str:
    """``scheme://host[:port]/path`` for a URL (no user, password, query or ``;`` parameters);
    the path as given for a file or folder; the class name for anything else.

    Everything up to the *last* '@' is dropped, so a password holding '/', '?' or '@' never
    survives; a '@' inside a query value then costs the host name, never a secret.
    """
    if isinstance(url_or_path, Path):
        return str(url_or_path)
    if not isinstance(url_or_path, str):
        return f"a {type(url_or_path).__name__} object"
    if not is_url(url_or_path):
        # a mistyped URL ('postgresql:/user:pw@host/db') is no path either: never echo a password
        return _USERINFO.sub("[redacted]@", url_or_path)
    scheme, rest = url_or_path.split("://", 1)
    if "@" in rest:
        rest = rest.rsplit("@", 1)[1]
    rest = _TAIL.split(rest, 1)[0]
    return f"{scheme.lower()}://{rest}"


def url_secrets(url: str) -> list[str]:
    """The secret-bearing pieces of a URL - userinfo and its parts, query and ``;`` values - raw
    and percent-decoded, longest first: what :func:`scrub` removes from any text."""
    if not is_url(url):
        return []
    rest = url.split("://", 1)[1]
    found: set[str] = set()
    if "@" in rest:
        userinfo, rest = rest.rsplit("@", 1)
        found.add(userinfo)
        found.update(userinfo.split(":", 1))
    parts = _TAIL.split(rest, 1)
    if len(parts) == 2:  # everything after the first '?', '#' or ';' of the host part
        found.add(parts[1])
        for _k, v in parse_qsl(re.sub(r"[;?#]", "&", parts[1]), keep_blank_values=False):
            found.add(v)
    found |= {unquote(s) for s in found}
    return sorted((s for s in found if s), key=len, reverse=True)


def scrub(text: str, url: object) -> str:
    """``text`` (say a driver's error message) with the URL replaced by its description and each
    secret of the URL by ``***`` (pieces shorter than 3 characters only as whole words, so a
    one-letter user name does not eat every letter of the message)."""
    if not is_url(url):
        return text
    assert isinstance(url, str)
    text = text.replace(url, describe_source(url))
    for s in url_secrets(url):
        if len(s) >= 3:
            text = text.replace(s, "***")
        else:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(s)}(?![A-Za-z0-9])", "***", text)
    return text
