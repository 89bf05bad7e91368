import pytest

from services.sms import status as st
from services.sms.repository import RANKS_BY_STATUS


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        (st.QUEUED, st.SENT, True),
        (st.SENT, st.DELIVERED, True),
        (st.QUEUED, st.DELIVERED, True),
        (st.DELIVERED, st.SENT, False),
        (st.DELIVERED, st.DELIVERED, False),
        (st.DELIVERED, st.UNDELIVERED, False),
        (st.SENT, st.SENT, False),
        (st.FAILED, st.DELIVERED, False),
    ],
)
def test_transitions_only_move_forward(current: int, new: int, allowed: bool) -> None:
    assert st.can_transition(current, new) is allowed


def test_late_sent_report_does_not_overwrite_delivered() -> None:
    assert not st.can_transition(st.DELIVERED, st.SENT)


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ([st.DELIVERED], st.DELIVERED),
        ([st.DELIVERED, st.DELIVERED], st.DELIVERED),
        ([st.DELIVERED, st.UNDELIVERED], st.PARTIALLY_DELIVERED),
        ([st.UNDELIVERED, st.FAILED], st.UNDELIVERED),
        ([st.FAILED, st.FAILED], st.FAILED),
    ],
)
def test_message_status_aggregates_its_segments(outcomes: list[int], expected: int) -> None:
    assert st.aggregate_segments(outcomes) == expected


def test_every_status_has_a_wire_name_and_rank() -> None:
    from libs.api.sms.v1 import sms_pb2

    for value in sms_pb2.MessageStatus.values():
        if value:
            assert value in st.NAMES


def test_the_rank_table_given_to_sql_agrees_with_can_transition() -> None:
    for a in st.NAMES:
        for b in st.NAMES:
            assert (RANKS_BY_STATUS[a] < RANKS_BY_STATUS[b]) == st.can_transition(a, b), (a, b)
