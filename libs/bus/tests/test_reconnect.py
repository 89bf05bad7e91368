"""A cut broker connection is survived by reconnecting, never by a restart (architecture §8).

The service's connection goes through a TCP proxy that resets it; the
consumers must consume again and the publisher publish again once the line
is back, and a delivery that was in hand when the line dropped comes again
(it was never acked), so nothing accepted is lost.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence

import pytest
from yarl import URL

from libs.bus import (
    EVENTS,
    BatchConsumer,
    Bus,
    BusConfig,
    Consumer,
    Delivery,
    OutgoingMessage,
    PublishFailed,
    QueueSpec,
)
from tests.helpers.bus import Collector
from tests.helpers.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration


def event(n: int) -> OutgoingMessage:
    return OutgoingMessage(
        EVENTS, "test.line.tested", n.to_bytes(4, "big"), "omnigate.test.v1.Line", "ten_1"
    )


@pytest.fixture
async def proxy(bus_config: BusConfig) -> AsyncIterator[TcpProxy]:
    url = URL(bus_config.url)
    async with TcpProxy(url.host or "127.0.0.1", url.port or 5672) as p:
        yield p


@pytest.fixture
async def cut_bus(bus_config: BusConfig, proxy: TcpProxy) -> AsyncIterator[Bus]:
    """A bus whose connection runs through ``proxy`` and retries every 0.2 s."""
    url = URL(bus_config.url).with_port(proxy.port).with_query(reconnect_interval="0.2")
    bus = await Bus.connect(dataclasses.replace(bus_config, url=str(url)), name="cut")
    try:
        yield bus
    finally:
        await bus.close()


class BatchCollector(Collector):
    async def batch(self, deliveries: Sequence[Delivery]) -> None:
        for d in deliveries:
            await self(d)


async def _publish_when_back(bus: Bus, message: OutgoingMessage, within_s: float = 20.0) -> None:
    """Publish through ``bus`` as soon as its connection is restored."""
    async with asyncio.timeout(within_s):
        while True:
            try:
                await bus.publisher.publish(message)
                return
            except Exception:  # noqa: BLE001 - the line is still down; try again
                await asyncio.sleep(0.1)


@pytest.mark.parametrize("kind", ["one at a time", "in batches"])
async def test_consumer_and_publisher_carry_on_after_the_connection_is_cut(
    kind: str,
    bus: Bus,
    cut_bus: Bus,
    proxy: TcpProxy,
    declared: list[QueueSpec],
) -> None:
    spec = QueueSpec("test.line", events=("test.line.*",))
    declared.append(spec)
    got = BatchCollector()
    consumer = (
        Consumer(cut_bus, spec, got)
        if kind == "one at a time"
        else BatchConsumer(cut_bus, spec, got.batch, max_wait_s=0.001)
    )
    async with consumer:
        await bus.publisher.publish(event(1))
        await got.wait_for(1)

        assert cut_bus.connected()
        proxy.cut()
        await _until(lambda: not cut_bus.connected())
        # Published (over a connection that works) while the consumer's is down.
        await bus.publisher.publish(event(2))
        await asyncio.sleep(0.5)  # a few failed reconnect attempts
        assert _numbers(got) == {1}
        proxy.restore()

        await _until(lambda: 2 in _numbers(got))
        # The publisher's channel came back too.
        await _publish_when_back(cut_bus, event(3))
        await _until(lambda: 3 in _numbers(got))
        assert cut_bus.connected()
    # Message 1 may come twice: its ack may have been on the line that was cut.
    assert _numbers(got) == {1, 2, 3}
    assert proxy.connections >= 2


def _numbers(got: Collector) -> set[int]:
    return {int.from_bytes(d.body, "big") for d in got.deliveries}


async def _until(predicate: Callable[[], bool], within_s: float = 20.0) -> None:
    async with asyncio.timeout(within_s):
        while not predicate():  # noqa: ASYNC110 - the handlers set no event to wait on
            await asyncio.sleep(0.01)


async def test_a_delivery_in_hand_when_the_line_drops_comes_again(
    bus: Bus, cut_bus: Bus, proxy: TcpProxy, declared: list[QueueSpec]
) -> None:
    spec = QueueSpec("test.line.held", events=("test.line.*",))
    declared.append(spec)
    release = asyncio.Event()
    seen: list[Delivery] = []

    async def slow(delivery: Delivery) -> None:
        seen.append(delivery)
        await release.wait()

    async with Consumer(cut_bus, spec, slow):
        await bus.publisher.publish(event(7))
        await _until(lambda: bool(seen))
        proxy.cut()
        release.set()  # its ack has no line to go out on
        await asyncio.sleep(0.3)
        proxy.restore()
        await _until(lambda: len(seen) == 2)
    assert [d.message_id for d in seen] == [seen[0].message_id] * 2
    assert seen[1].redelivered


async def test_a_consumer_the_broker_cancels_consumes_again(
    bus: Bus, cut_bus: Bus, declared: list[QueueSpec]
) -> None:
    """Its queue deleted under it: the consumer is cancelled, the queue declared again."""
    spec = QueueSpec("test.line.deleted", events=("test.line.*",))
    declared.append(spec)
    got = Collector()
    async with Consumer(cut_bus, spec, got) as consumer:
        await bus.publisher.publish(event(1))
        await got.wait_for(1)
        channel = await bus.channel()
        await channel.queue_delete(consumer.queue)
        await channel.close()
        published = 1

        async def arrived() -> bool:
            nonlocal published
            # Until the queue and its binding are back, events find no queue.
            published += 1
            await bus.publisher.publish(event(published))
            await asyncio.sleep(0.1)
            return len(got.deliveries) > 1

        async with asyncio.timeout(20):
            while not await arrived():
                pass
    assert int.from_bytes(got.deliveries[-1].body, "big") > 1


async def test_a_broker_that_stops_answering_fails_the_batch_within_the_deadline(
    bus_config: BusConfig, proxy: TcpProxy
) -> None:
    url = URL(bus_config.url).with_port(proxy.port)
    config = dataclasses.replace(bus_config, url=str(url), publish_timeout_s=0.5)
    async with await Bus.connect(config, name="frozen") as bus:
        proxy.freeze()
        batch = [event(n) for n in range(5)]
        started = asyncio.get_running_loop().time()
        try:
            with pytest.raises(PublishFailed) as info:
                await bus.publisher.publish_many(batch)
        finally:
            proxy.thaw()
        assert asyncio.get_running_loop().time() - started < 3
        assert set(info.value.failures) == {m.message_id for m in batch}
        assert info.value.retryable
