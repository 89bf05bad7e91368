"""Times as the API shows them (RFC 3339, UTC, milliseconds) and as protobuf carries them.

Arithmetic and a small cache rather than ``Timestamp.FromDatetime`` /
``ToDatetime`` and ``isoformat``, several times slower: these run a few
times for every message, response and webhook.
"""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_proto(value: datetime) -> Timestamp:
    """A protobuf Timestamp of an aware datetime, to the microsecond."""
    since = value - _EPOCH
    return Timestamp(seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1000)


def rfc3339(value: datetime) -> str:
    """``2026-11-27T10:40:46.123Z`` (UTC, milliseconds) of an aware datetime."""
    since = value - _EPOCH
    return f"{_second(since.days * 86_400 + since.seconds)}.{since.microseconds // 1000:03d}Z"


def rfc3339_of(ts: Timestamp) -> str | None:
    """``rfc3339`` of a protobuf Timestamp; None for an unset one."""
    if not ts.seconds and not ts.nanos:
        return None
    return f"{_second(ts.seconds)}.{ts.nanos // 1_000_000:03d}Z"


@functools.lru_cache(maxsize=256)
def _second(seconds: int) -> str:
    # Mostly the same few seconds over and over.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
