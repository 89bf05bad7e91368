"""Submit commands: one per tenant and batch, each message with its own trace context."""

from __future__ import annotations

from datetime import UTC, datetime

from libs.api.sms.v1 import events_pb2
from libs.bus import COMMANDS, Delivery
from libs.ids import new_id
from services.sms import events
from services.sms import status as st
from services.sms.repository import NewMessage
from services.sms.worker import submit_messages, submit_weight

T0 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


def _message(tenant: str, body: str = "hi") -> NewMessage:
    return NewMessage(
        id=new_id("msg"), tenant_id=tenant, direction=1, sender="+447700900100",
        recipient="+447700900000", body=body, encoding=1, segments=1,
        status=st.QUEUED, status_callback="", created_at=T0,
    )  # fmt: skip


def _traceparent(n: int) -> dict[str, str]:
    return {"traceparent": f"00-{n:032x}-{n:016x}-01"}


def _delivery(type_: str, body: bytes) -> Delivery:
    return Delivery(
        body=body, type=type_, message_id=new_id("evt"), tenant_id="ten_a", headers={},
        redelivered=False, routing_key="sms.submit", exchange="commands", attempt=0,
        timestamp=None,
    )  # fmt: skip


def test_one_command_per_tenant_and_chunk_each_message_with_its_trace() -> None:
    items = [
        (_message("ten_a", "a1"), _traceparent(1)),
        (_message("ten_b", "b1"), _traceparent(2)),
        (_message("ten_a", "a2"), _traceparent(3)),
        (_message("ten_a", "a3"), {}),
    ]
    commands = events.submit_commands(items, max_per_command=2)

    assert [(c.exchange, c.routing_key, c.tenant_id) for c in commands] == [
        (COMMANDS, events.SUBMIT_QUEUE, "ten_a"),
        (COMMANDS, events.SUBMIT_QUEUE, "ten_a"),
        (COMMANDS, events.SUBMIT_QUEUE, "ten_b"),
    ]
    carried = [events_pb2.SubmitMessages.FromString(c.body).messages for c in commands]
    assert [[m.body for m in ms] for ms in carried] == [["a1", "a2"], ["a3"], ["b1"]]
    first = carried[0][0]
    assert (first.message_id, first.tenant_id, first.sender, first.recipient) == (
        items[0][0].id, "ten_a", "+447700900100", "+447700900000",
    )  # fmt: skip
    assert [dict(m.trace_context) for m in carried[0]] == [_traceparent(1), _traceparent(3)]
    assert dict(carried[1][0].trace_context) == {}
    # The bus headers carry the first message's context, for the publish span.
    assert [dict(c.headers) for c in commands] == [_traceparent(1), {}, _traceparent(2)]
    assert len({c.message_id for c in commands}) == 3


def test_the_worker_reads_batched_commands_and_single_ones_queued_before_them() -> None:
    batched = events.submit_commands([(_message("ten_a", f"m{i}"), {}) for i in range(3)])
    (command,) = batched
    delivery = _delivery(command.type, command.body)
    assert [m.body for m in submit_messages(delivery)] == ["m0", "m1", "m2"]
    assert submit_weight(delivery) == 3

    # A rolling upgrade finds commands of one message each in the queue.
    one = events_pb2.SubmitMessage(message_id=new_id("msg"), tenant_id="ten_a", body="old")
    older = _delivery(events_pb2.SubmitMessage.DESCRIPTOR.full_name, one.SerializeToString())
    assert [m.body for m in submit_messages(older)] == ["old"]
    assert submit_weight(older) == 1
