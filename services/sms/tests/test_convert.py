"""Rows to protobuf: timestamps as protobuf's own conversion makes them, only faster."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from google.protobuf.timestamp_pb2 import Timestamp

from services.sms.convert import timestamp


def _protobufs(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def test_timestamps_match_protobufs_own_conversion() -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    rng = random.Random(7)
    cases = [
        epoch,
        datetime(2026, 12, 1, 3, 4, 5, 123456, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # before the epoch
        datetime(2026, 6, 1, 12, 0, 0, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        *(epoch + timedelta(microseconds=rng.randrange(-(10**15), 10**17)) for _ in range(500)),
    ]
    for value in cases:
        assert timestamp(value) == _protobufs(value), value
