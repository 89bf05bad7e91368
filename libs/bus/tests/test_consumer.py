"""Retries with backoff, dead-lettering, batch settlement and draining on stop."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from libs.bus import (
    EVENTS,
    BatchConsumer,
    Bus,
    Consumer,
    Delivery,
    OutgoingMessage,
    QueueSpec,
    dlq_name,
    is_retryable,
)
from libs.errors import InvalidArgument, NotFound, Outage, Unavailable
from tests.helpers.bus import Collector, get_messages, ready_count

pytestmark = pytest.mark.integration


def event(key: str = "test.thing.created") -> OutgoingMessage:
    return OutgoingMessage(EVENTS, key, b"\x08\x01", "omnigate.test.v1.Thing", "ten_1")


def test_retryable_classification() -> None:
    assert is_retryable(Unavailable("db down"))
    assert is_retryable(ConnectionResetError())
    assert is_retryable(TimeoutError())
    assert not is_retryable(InvalidArgument("bad"))
    assert not is_retryable(NotFound("gone"))
    assert not is_retryable(ValueError("bug"))


async def test_retryable_error_is_retried_after_the_delay(
    bus: Bus, declared: list[QueueSpec]
) -> None:
    spec = QueueSpec("test.retry", events=("test.thing.*",))
    declared.append(spec)
    got = Collector(fail=lambda d: Unavailable("later") if d.attempt == 0 else None)
    async with Consumer(bus, spec, got):
        sent = event("test.thing.updated")
        started = time.monotonic()
        await bus.publisher.publish(sent)
        first, second = await got.wait_for(2)
        elapsed = time.monotonic() - started
    assert first.message_id == second.message_id == sent.message_id
    assert (first.attempt, second.attempt) == (0, 1)
    # The retry keeps the original route and says why it came back.
    assert second.routing_key == "test.thing.updated"
    assert second.exchange == f"{bus.config.prefix}.events"
    assert second.headers["x-omnigate-last-error"] == "Unavailable: later"
    assert second.headers["traceparent"] == first.headers["traceparent"]
    assert elapsed >= 0.15  # the first delay is 0.2 s
    assert await ready_count(bus.config, dlq_name(f"{bus.config.prefix}.test.retry")) == 0


async def test_non_retryable_error_goes_straight_to_the_dlq(
    bus: Bus, declared: list[QueueSpec]
) -> None:
    spec = QueueSpec("test.poison", events=("test.thing.*",))
    declared.append(spec)
    got = Collector(fail=lambda d: InvalidArgument("malformed"))
    async with Consumer(bus, spec, got):
        sent = event()
        await bus.publisher.publish(sent)
        (dead,) = await get_messages(bus.config, dlq_name(f"{bus.config.prefix}.test.poison"), 1)
    assert dead.message_id == sent.message_id
    assert dead.body == sent.body
    assert [d.attempt for d in got.deliveries] == [0]


async def test_failing_past_the_last_retry_lands_in_the_dlq(
    bus: Bus, declared: list[QueueSpec]
) -> None:
    spec = QueueSpec("test.flaky", events=("test.thing.*",), retry_delays_s=(0.1, 0.1))
    declared.append(spec)
    got = Collector(fail=lambda d: Unavailable("still down"))
    async with Consumer(bus, spec, got):
        sent = event()
        await bus.publisher.publish(sent)
        (dead,) = await get_messages(bus.config, dlq_name(f"{bus.config.prefix}.test.flaky"), 1)
    assert dead.message_id == sent.message_id
    assert [d.attempt for d in got.deliveries] == [0, 1, 2]


async def test_an_outage_is_waited_out_in_place_and_spends_no_retry(
    bus: Bus, declared: list[QueueSpec]
) -> None:
    """Longer than every retry delay together: with the budget, it would be dead-lettered."""
    spec = QueueSpec("test.outage", events=("test.thing.*",), retry_delays_s=(0.05, 0.05))
    declared.append(spec)
    back_at = time.monotonic() + 1.0
    got = Collector(
        fail=lambda d: ConnectionRefusedError("db down") if time.monotonic() < back_at else None
    )
    async with Consumer(bus, spec, got):
        sent = event()
        await bus.publisher.publish(sent)
        await asyncio.sleep(back_at + 0.5 - time.monotonic())  # back, and handled once more
        deliveries = await got.wait_for(3)
    assert {d.message_id for d in deliveries} == {sent.message_id}
    assert {d.attempt for d in deliveries} == {0}  # called again in place, not re-published
    assert not any(d.redelivered for d in deliveries)
    queue = f"{bus.config.prefix}.test.outage"
    assert await ready_count(bus.config, dlq_name(queue)) == 0
    assert await ready_count(bus.config, queue) == 0


async def test_a_batch_waits_out_the_outages_it_reports_and_acks_the_rest(
    bus: Bus, declared: list[QueueSpec]
) -> None:
    spec = QueueSpec("test.batch.outage", events=("test.thing.*",), retry_delays_s=(0.05,))
    declared.append(spec)
    sent = [event() for _ in range(6)]
    handled: list[list[str]] = []
    rounds = 0

    async def handler(batch: list[Delivery]) -> dict[Delivery, Exception]:
        nonlocal rounds
        rounds += 1
        handled.append([d.message_id for d in batch])
        # The carrier is away for the first three rounds; half the batch needs it.
        if rounds <= 3:
            return {d: Outage("not bound") for d in batch if d.message_id in away}
        return {}

    away = {m.message_id for m in sent[:3]}
    async with BatchConsumer(bus, spec, handler, max_batch=6, max_wait_s=0.1):
        await bus.publisher.publish_many(sent)
        for _ in range(200):
            if rounds >= 4:
                break
            await asyncio.sleep(0.02)
    assert sorted(handled[0]) == sorted(m.message_id for m in sent)
    assert all(set(h) == away for h in handled[1:])  # only the waiting ones again
    queue = f"{bus.config.prefix}.test.batch.outage"
    assert await ready_count(bus.config, dlq_name(queue)) == 0
    assert await ready_count(bus.config, queue) == 0


async def test_batch_settles_each_message(bus: Bus, declared: list[QueueSpec]) -> None:
    spec = QueueSpec("test.batch.partial", events=("test.thing.*",))
    declared.append(spec)
    sent = [event() for _ in range(10)]
    bad = sent[3].message_id
    got = Collector()

    async def handler(batch: list[Delivery]) -> dict[Delivery, Exception]:
        for d in batch:
            await got(d)
        return {d: InvalidArgument("no") for d in batch if d.message_id == bad}

    async with BatchConsumer(bus, spec, handler, max_batch=10, max_wait_s=0.05):
        await bus.publisher.publish_many(sent)
        await got.wait_for(10)
        (dead,) = await get_messages(
            bus.config, dlq_name(f"{bus.config.prefix}.test.batch.partial"), 1
        )
    assert dead.message_id == bad
    assert len(got.deliveries) == 10  # the others were acked, not redelivered
    assert await ready_count(bus.config, f"{bus.config.prefix}.test.batch.partial") == 0


async def test_a_batch_raising_for_one_poison_message_dead_letters_only_that_one(
    bus: Bus, declared: list[QueueSpec]
) -> None:
    """A handler that fails the whole batch (one transaction) for one bad message:
    the batch is handled again in halves, and the innocent ones are acked."""
    spec = QueueSpec("test.batch.poison", events=("test.thing.*",))
    declared.append(spec)
    sent = [
        OutgoingMessage(
            EVENTS, "test.thing.created", b"poison" if i == 6 else b"ok", "t.v1.T", "ten_1"
        )
        for i in range(16)
    ]
    acked: list[str] = []
    sizes: list[int] = []

    async def handler(batch: list[Delivery]) -> None:
        sizes.append(len(batch))
        if any(d.body == b"poison" for d in batch):
            raise InvalidArgument("cannot store this one")
        acked.extend(d.message_id for d in batch)

    async with BatchConsumer(bus, spec, handler, max_batch=16, max_wait_s=0.2):
        await bus.publisher.publish_many(sent)
        (dead,) = await get_messages(
            bus.config, dlq_name(f"{bus.config.prefix}.test.batch.poison"), 1
        )
        for _ in range(100):
            if len(acked) == 15:
                break
            await asyncio.sleep(0.02)
    assert dead.message_id == sent[6].message_id
    assert sorted(acked) == sorted(m.message_id for i, m in enumerate(sent) if i != 6)
    assert sizes[0] == 16 and len(sizes) <= 1 + 2 * 4  # halvings, not one retry each


async def test_messages_arriving_while_batches_are_busy_make_one_bigger_batch(
    bus: Bus, declared: list[QueueSpec]
) -> None:
    spec = QueueSpec("test.batch.grow", events=("test.thing.*",))
    declared.append(spec)
    sizes: list[int] = []
    started = asyncio.Event()
    release = asyncio.Event()

    async def handler(batch: list[Delivery]) -> None:
        sizes.append(len(batch))
        started.set()
        await release.wait()

    async with BatchConsumer(bus, spec, handler, max_batch=50, max_wait_s=0.001, max_concurrency=1):
        await bus.publisher.publish(event())
        await started.wait()
        for _ in range(5):  # each well past the wait: alone, each would be a batch
            await bus.publisher.publish(event())
            await asyncio.sleep(0.02)
        release.set()
        for _ in range(100):
            if sum(sizes) == 6:
                break
            await asyncio.sleep(0.02)
    assert sizes == [1, 5]


async def test_a_finished_batch_does_not_cut_the_next_one_short(
    bus: Bus, declared: list[QueueSpec]
) -> None:
    # Messages gather for their wait unless every batch is busy: leaving at
    # the end of any batch made two workers' batches a quarter of one's.
    spec = QueueSpec("test.batch.wait", events=("test.thing.*",))
    declared.append(spec)
    sizes: list[int] = []
    release = asyncio.Event()

    async def handler(batch: list[Delivery]) -> None:
        sizes.append(len(batch))
        await release.wait()

    async def handled(n: int) -> None:
        for _ in range(100):
            if sum(sizes) >= n:
                return
            await asyncio.sleep(0.02)

    async with BatchConsumer(bus, spec, handler, max_batch=2, max_wait_s=60, max_concurrency=2):
        await bus.publisher.publish_many([event(), event()])  # full: leaves at once
        await handled(2)
        await bus.publisher.publish(event())
        await asyncio.sleep(0.1)
        release.set()
        await asyncio.sleep(0.1)
        assert sizes == [2]
        await bus.publisher.publish(event())  # fills the waiting batch
        await handled(4)
    assert sizes == [2, 2]


async def test_batches_are_sized_by_weight_and_a_heavy_message_goes_alone(
    bus: Bus, declared: list[QueueSpec]
) -> None:
    """A message's weight (say, the items a command carries) counts toward max_batch."""
    spec = QueueSpec("test.batch.weight", events=("test.thing.*",))
    declared.append(spec)
    batches: list[list[int]] = []
    started = asyncio.Event()
    release = asyncio.Event()

    async def handler(batch: list[Delivery]) -> None:
        batches.append([d.body[0] for d in batch])
        started.set()
        await release.wait()

    def weighted(weight: int) -> OutgoingMessage:
        return OutgoingMessage(EVENTS, "test.thing.created", bytes([weight]), "t.W", "ten_1")

    async with BatchConsumer(
        bus,
        spec,
        handler,
        max_batch=10,
        max_wait_s=0.001,
        max_concurrency=1,
        weight=lambda d: d.body[0],
    ):
        await bus.publisher.publish(weighted(1))
        await started.wait()  # the rest wait in the buffer, in order
        for w in (4, 4, 4, 12, 1):
            await bus.publisher.publish(weighted(w))
        await asyncio.sleep(0.1)
        release.set()
        for _ in range(100):
            if sum(map(len, batches)) == 6:
                break
            await asyncio.sleep(0.02)
    assert batches == [[1], [4, 4], [4], [12], [1]]


async def test_batch_handler_error_retries_the_whole_batch(
    bus: Bus, declared: list[QueueSpec]
) -> None:
    spec = QueueSpec("test.batch.retry", events=("test.thing.*",))
    declared.append(spec)
    got = Collector()

    async def handler(batch: list[Delivery]) -> None:
        for d in batch:
            await got(d)
        if any(d.attempt == 0 for d in batch):
            raise Unavailable("database restarting")

    async with BatchConsumer(bus, spec, handler, max_batch=5, max_wait_s=0.05):
        sent = [event() for _ in range(5)]
        await bus.publisher.publish_many(sent)
        await got.wait_for(10)
    firsts = [d for d in got.deliveries if d.attempt == 0]
    retries = [d for d in got.deliveries if d.attempt == 1]
    assert {d.message_id for d in firsts} == {d.message_id for d in retries}
    assert {d.message_id for d in retries} == {m.message_id for m in sent}


async def test_stop_waits_for_handlers_in_flight(bus: Bus, declared: list[QueueSpec]) -> None:
    spec = QueueSpec("test.drain", events=("test.thing.*",))
    declared.append(spec)
    entered = asyncio.Event()
    release = asyncio.Event()
    finished: list[str] = []

    async def slow(d: Delivery) -> None:
        entered.set()
        await release.wait()
        finished.append(d.message_id)

    consumer = Consumer(bus, spec, slow)
    await consumer.start()
    sent = event()
    await bus.publisher.publish(sent)
    await asyncio.wait_for(entered.wait(), 20)
    stopping = asyncio.create_task(consumer.stop())
    await asyncio.sleep(0)
    assert not stopping.done()
    release.set()
    await asyncio.wait_for(stopping, 20)
    assert finished == [sent.message_id]
    # Acked before the channel closed: nothing comes back.
    assert await ready_count(bus.config, f"{bus.config.prefix}.test.drain") == 0


async def test_acks_coalesced_out_of_order_settle_each_message_once(
    bus: Bus, declared: list[QueueSpec]
) -> None:
    # Handlers finish out of order and some messages are rejected between
    # acked ones: a multiple-ack that covered a message still in hand would
    # lose it, and one ending on a rejected tag would make the broker close
    # the channel (its robust reopen would redeliver everything unacked).
    spec = QueueSpec("test.acks", events=("test.thing.*",))
    declared.append(spec)
    rng = random.Random(7)
    handled: list[Delivery] = []
    all_handled = asyncio.Event()

    async def handler(d: Delivery) -> None:
        handled.append(d)
        if len(handled) == len(sent):
            all_handled.set()
        await asyncio.sleep(rng.uniform(0, 0.03))
        if d.body == b"reject":
            raise InvalidArgument("rejected on purpose")

    sent = [
        OutgoingMessage(
            EVENTS, "test.thing.created", b"reject" if i % 7 == 3 else b"ok", "t.v1.T", "ten_1"
        )
        for i in range(120)
    ]
    rejected = [m for m in sent if m.body == b"reject"]
    consumer = Consumer(bus, spec, handler, prefetch=20)
    await consumer.start()
    try:
        await bus.publisher.publish_many(sent)
        dead = await get_messages(bus.config, dlq_name(consumer.queue), len(rejected))
        await asyncio.wait_for(all_handled.wait(), 20)
        # Long enough for a channel error to close (and reopen) the channel.
        await asyncio.sleep(0.3)
    finally:
        await consumer.stop()
    assert sorted(d.message_id for d in handled) == sorted(m.message_id for m in sent)
    assert not any(d.redelivered for d in handled)
    assert sorted(m.message_id for m in dead) == sorted(m.message_id for m in rejected)
    assert await ready_count(bus.config, consumer.queue) == 0
