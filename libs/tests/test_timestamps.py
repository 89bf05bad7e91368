"""Times as protobuf's own conversion makes them, and as the API shows them, only faster."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from libs.timestamps import rfc3339, rfc3339_of, to_proto


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
        assert to_proto(value) == _protobufs(value), value


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 11, 27, 10, 40, 46, 123456, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2030, 1, 1, 0, 0, 0, 0, tzinfo=UTC),
        datetime(2026, 6, 1, 17, 30, 0, 5000, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    ],
)
def test_api_times_are_utc_with_milliseconds(value: datetime) -> None:
    utc = value.astimezone(UTC)
    expected = utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    assert rfc3339(value) == expected
    assert rfc3339_of(_protobufs(value)) == expected


def test_an_unset_timestamp_is_none() -> None:
    assert rfc3339_of(Timestamp()) is None
