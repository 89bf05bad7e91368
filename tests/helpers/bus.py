"""Test helpers for the bus: tear down a prefix's topology, collect and inspect messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from libs.bus import BusConfig, Delivery, QueueSpec, delete_topology


@asynccontextmanager
async def bus_cleanup(
    config: BusConfig, specs: Sequence[QueueSpec] = ()
) -> AsyncIterator[list[QueueSpec]]:
    """Delete, on exit, the queues of ``specs`` (and of specs appended to the yielded
    list) plus the prefix's exchanges, over a connection of its own."""
    declared = list(specs)
    try:
        yield declared
    finally:
        connection = await aio_pika.connect(config.url)
        try:
            channel = await connection.channel()
            await delete_topology(channel, config, declared)
        finally:
            await connection.close()


class Collector:
    """A handler that records deliveries and lets a test wait for a count of them."""

    def __init__(self, fail: Callable[[Delivery], Exception | None] | None = None) -> None:
        self.deliveries: list[Delivery] = []
        self._fail = fail
        self._changed = asyncio.Condition()

    async def __call__(self, delivery: Delivery) -> None:
        async with self._changed:
            self.deliveries.append(delivery)
            self._changed.notify_all()
        if self._fail is not None:
            error = self._fail(delivery)
            if error is not None:
                raise error

    async def wait_for(self, n: int, within_s: float = 20.0) -> list[Delivery]:
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.deliveries) >= n), within_s
            )
        return list(self.deliveries)


async def get_messages(
    config: BusConfig, queue: str, n: int, within_s: float = 20.0
) -> list[AbstractIncomingMessage]:
    """Take (and ack) ``n`` messages from the full queue name ``queue``, waiting for them."""
    connection = await aio_pika.connect(config.url)
    try:
        channel = await connection.channel()
        q = await channel.get_queue(queue, ensure=True)
        got: list[AbstractIncomingMessage] = []
        async with asyncio.timeout(within_s):
            while len(got) < n:
                message = await q.get(no_ack=True, fail=False)
                if message is None:
                    await asyncio.sleep(0.05)  # polling interval, not an assertion
                else:
                    got.append(message)
        return got
    finally:
        await connection.close()


async def ready_count(config: BusConfig, queue: str) -> int:
    """Messages ready in the full queue name ``queue`` (not counting unacked ones)."""
    connection = await aio_pika.connect(config.url)
    try:
        channel = await connection.channel()
        q = await channel.declare_queue(queue, passive=True)
        assert q.declaration_result.message_count is not None
        return q.declaration_result.message_count
    finally:
        await connection.close()
