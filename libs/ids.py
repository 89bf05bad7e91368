"""Prefixed, time-ordered identifiers: ``msg_01jd8x...``.

The body is a ULID in lower-case Crockford base32: 48 bits of milliseconds
then 80 random bits, so IDs sort by creation time as plain strings (cursor
pagination relies on that) and say what they are by their prefix. Within one
millisecond the random part is incremented, so IDs made by one process are
strictly increasing even in a burst.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_DECODE = {c: i for i, c in enumerate(_ALPHABET)}
_RANDOM_BITS = 80
_RANDOM_MASK = (1 << _RANDOM_BITS) - 1
_BODY_LEN = 26

PREFIXES = frozenset(
    {"msg", "call", "room", "conv", "ct", "ntf", "evt", "ten", "key", "whk", "dlv", "att", "num"}
)

_lock = threading.Lock()
_last_ms = 0
_last_rand = 0


def _encode(value: int) -> str:
    out = []
    for _ in range(_BODY_LEN):
        out.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


def new_id(prefix: str) -> str:
    """A fresh ``<prefix>_<ulid>``; ``prefix`` must be one of ``PREFIXES``."""
    global _last_ms, _last_rand
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    now = time.time_ns() // 1_000_000
    with _lock:
        if now <= _last_ms:
            now = _last_ms
            rand = (_last_rand + 1) & _RANDOM_MASK
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _last_ms, _last_rand = now, rand
    return f"{prefix}_{_encode((now << _RANDOM_BITS) | rand)}"


def derived_id(prefix: str, source_id: str, *keys: str) -> str:
    """The same ``<prefix>_<ulid>`` every time for the same source ID and keys.

    For a record made from another (a webhook delivery of an event to an
    endpoint) by a step that may run twice: both runs name it alike, so the
    second finds the first's. It sorts with its source (same milliseconds);
    the random part is a hash of the inputs.
    """
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    digest = hashlib.blake2b("\x1f".join((source_id, *keys)).encode(), digest_size=10).digest()
    value = (id_time_ms(source_id) << _RANDOM_BITS) | int.from_bytes(digest, "big")
    return f"{prefix}_{_encode(value)}"


def is_id(value: str, prefix: str) -> bool:
    """Whether ``value`` is a well-formed ID with ``prefix`` (cheap; no lookup)."""
    head, sep, body = value.partition("_")
    return (
        sep == "_"
        and head == prefix
        and len(body) == _BODY_LEN
        and body[0] in "01234567"
        and all(c in _DECODE for c in body)
    )


def id_time_ms(value: str) -> int:
    """Milliseconds since the epoch at which the ID was made."""
    body = value.partition("_")[2]
    n = 0
    for c in body[:10]:
        n = (n << 5) | _DECODE[c]
    return n
