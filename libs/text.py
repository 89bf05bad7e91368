"""What a text field may hold: only what every hop after it can carry.

JSON and protobuf carry any code point, but PostgreSQL's ``text`` cannot
hold U+0000, and UTF-8 (PostgreSQL, protobuf on the wire, SMPP's UCS-2
and HTTP) cannot encode a lone surrogate (U+D800-U+DFFF without its pair).
A value holding one used to pass validation and fail the statement it was
batched into, failing every other caller's item with it. Each service
checks its text fields with ``text_problem`` where it validates input, and
the HTTP edge checks every string of every request before it forwards it.

URLs go further: they are sent in an HTTP request line, which cannot hold
control characters or spaces (``urlsplit`` silently drops tabs and line
breaks, so it cannot be the check).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# A string that cannot be stored or sent: NUL, or half of a surrogate pair.
_UNCARRIABLE = re.compile("[\x00\ud800-\udfff]")
# What an HTTP request line cannot hold unencoded: C0 controls, space, DEL.
_NOT_IN_URL = re.compile("[\x00-\x20\x7f]")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored and sent on (phrased to follow a field name), or None."""
    found = _UNCARRIABLE.search(value)
    if found is None:
        return None
    at = found.start()
    if found.group() == "\x00":
        return f"contains a NUL character (U+0000) at position {at}, which text cannot hold"
    return (
        f"contains a lone surrogate (U+{ord(found.group()):04X}) at position {at}, "
        "which is not a character"
    )


def url_problem(value: str, max_chars: int) -> str | None:
    """Why ``value`` is not an absolute http(s) URL that can be requested, or None."""
    if len(value) > max_chars:
        return f"must be at most {max_chars} characters"
    bad = _NOT_IN_URL.search(value) or _UNCARRIABLE.search(value)
    if bad is not None:
        return (
            f"contains U+{ord(bad.group()):04X} at position {bad.start()}; "
            "percent-encode it (a URL cannot hold spaces or control characters)"
        )
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http:// or https:// URL"
    return None
