"""Publishing with confirms, consuming, and commands that cannot be routed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from libs.bus import (
    COMMANDS,
    EVENTS,
    BatchConsumer,
    Bus,
    Consumer,
    Delivery,
    OutgoingMessage,
    PublishFailed,
    QueueSpec,
)
from libs.bus.message import REPUBLISHED_HEADER
from libs.ids import is_id
from tests.helpers.bus import Collector

pytestmark = pytest.mark.integration

TYPE = "omnigate.test.v1.Thing"


def event(key: str = "test.thing.created", body: bytes = b"\x08\x01") -> OutgoingMessage:
    return OutgoingMessage(EVENTS, key, body, TYPE, "ten_1")


async def test_publish_then_consume(bus: Bus, declared: list[QueueSpec]) -> None:
    spec = QueueSpec("test.things", events=("test.thing.*",))
    declared.append(spec)
    got = Collector()
    async with Consumer(bus, spec, got):
        sent = event(body=b"\x01\x02")
        await bus.publisher.publish(sent)
        (d,) = await got.wait_for(1)
    assert is_id(sent.message_id, "evt")
    assert (d.body, d.type, d.message_id, d.tenant_id) == (
        b"\x01\x02",
        TYPE,
        sent.message_id,
        "ten_1",
    )
    assert (d.routing_key, d.attempt, d.redelivered) == ("test.thing.created", 0, False)
    assert not d.republished and not d.maybe_seen
    assert d.exchange == f"{bus.config.prefix}.events"
    assert "traceparent" in d.headers
    assert d.timestamp is not None


async def test_a_message_an_outbox_relay_may_have_published_before_says_so(
    bus: Bus, declared: list[QueueSpec]
) -> None:
    spec = QueueSpec("test.republished", events=("test.thing.*",))
    declared.append(spec)
    got = Collector()
    async with Consumer(bus, spec, got):
        await bus.publisher.publish(replace(event(), headers={REPUBLISHED_HEADER: "1"}))
        (d,) = await got.wait_for(1)
    assert (d.republished, d.redelivered, d.attempt) == (True, False, 0)
    assert d.maybe_seen


async def test_publish_many_all_confirmed_and_consumed(bus: Bus, declared: list[QueueSpec]) -> None:
    spec = QueueSpec("test.many", events=("test.#",))
    declared.append(spec)
    got = Collector()
    async with Consumer(bus, spec, got):
        sent = [event(body=i.to_bytes(2, "big")) for i in range(2000)]
        await bus.publisher.publish_many(sent)
        received = await got.wait_for(2000, within_s=40)
    assert {d.message_id for d in received} == {m.message_id for m in sent}


async def test_batch_consumer_hands_over_batches(bus: Bus, declared: list[QueueSpec]) -> None:
    spec = QueueSpec("test.batched", events=("test.#",))
    declared.append(spec)
    batches: list[list[Delivery]] = []
    got = Collector()

    async def handler(batch: list[Delivery]) -> None:
        batches.append(list(batch))
        for d in batch:
            await got(d)

    async with BatchConsumer(bus, spec, handler, max_batch=50, max_wait_s=0.01):
        sent = [event() for _ in range(500)]
        await bus.publisher.publish_many(sent)
        received = await got.wait_for(500)
    assert {d.message_id for d in received} == {m.message_id for m in sent}
    assert max(len(b) for b in batches) > 1
    assert all(len(b) <= 50 for b in batches)


async def test_command_to_its_queue(bus: Bus, declared: list[QueueSpec]) -> None:
    spec = QueueSpec("test.do", commands=True)
    declared.append(spec)
    got = Collector()
    async with Consumer(bus, spec, got):
        sent = OutgoingMessage(COMMANDS, "test.do", b"x", TYPE, "ten_2")
        await bus.publisher.publish(sent)
        (d,) = await got.wait_for(1)
    assert (d.message_id, d.routing_key, d.tenant_id) == (sent.message_id, "test.do", "ten_2")


async def test_unroutable_command_is_an_error(bus: Bus) -> None:
    lost = OutgoingMessage(COMMANDS, "test.nobody", b"x", TYPE, "ten_1")
    with pytest.raises(PublishFailed) as info:
        await bus.publisher.publish_many([lost, event()])
    assert list(info.value.failures) == [lost.message_id]
    assert info.value.retryable
    # The channel survives a returned message.
    await bus.publisher.publish(event())
