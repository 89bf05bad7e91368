from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from services.edge.representation import rfc3339


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 11, 27, 10, 40, 46, 123456, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2030, 1, 1, 0, 0, 0, 0, tzinfo=UTC),
    ],
)
def test_timestamps_are_utc_with_milliseconds(value: datetime) -> None:
    ts = Timestamp()
    ts.FromDatetime(value)
    expected = value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    assert rfc3339(ts) == expected


def test_an_unset_timestamp_is_none() -> None:
    assert rfc3339(Timestamp()) is None
