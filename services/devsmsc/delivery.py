"""Outbound deliver_sm (receipts and MO) to bound receivers, driven by one timer loop.

Receipts are due ``receipt_delay_s`` after their submit; at thousands of
submits per second a task or ``call_later`` per receipt is pure overhead, so
they wait in one heap ordered by due time and a single loop sends everything
due in one pass. Items for a system_id with no receiver bound are parked and
flushed when one binds; items answered with an error (or lost with their
connection) come back after ``redeliver_delay_s``: at-least-once, like a real
SMSC.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from libs.smpp.pdu import DeliverSm

log = logging.getLogger("omnigate.devsmsc")

# When every receiver's window is full, look again this soon.
_WINDOW_FULL_RETRY_S = 0.01


@dataclass(slots=True)
class Outbound:
    """A deliver_sm waiting to be sent; ``is_receipt`` only selects the counter."""

    system_id: str
    pdu: DeliverSm
    is_receipt: bool
    attempts: int = 0


class Receiver(Protocol):
    """A bound receiver/transceiver session, as the scheduler needs it."""

    @property
    def system_id(self) -> str: ...

    def has_capacity(self) -> bool: ...

    def send_deliver(self, item: Outbound) -> None: ...


class DeliveryScheduler:
    def __init__(self, redeliver_delay_s: float) -> None:
        self._redeliver_delay_s = redeliver_delay_s
        self._heap: list[tuple[float, int, Outbound]] = []
        self._tie = itertools.count()  # keeps heap order stable for equal due times
        self._receivers: dict[str, list[Receiver]] = {}
        self._rotation: dict[str, int] = {}
        self._parked: dict[str, deque[Outbound]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="devsmsc-delivery")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def queued(self) -> int:
        return len(self._heap) + sum(len(q) for q in self._parked.values())

    def has_receiver(self, system_id: str) -> bool:
        return bool(self._receivers.get(system_id))

    def add_receiver(self, receiver: Receiver) -> None:
        self._receivers.setdefault(receiver.system_id, []).append(receiver)
        parked = self._parked.pop(receiver.system_id, None)
        if parked:
            log.info("flushing %d parked deliver_sm to a new receiver", len(parked))
            for item in parked:
                self.schedule(item, 0.0)

    def remove_receiver(self, receiver: Receiver) -> None:
        group = self._receivers.get(receiver.system_id, [])
        if receiver in group:
            group.remove(receiver)

    def schedule(self, item: Outbound, delay_s: float) -> None:
        due = asyncio.get_running_loop().time() + delay_s
        heap = self._heap
        heapq.heappush(heap, (due, next(self._tie), item))
        # Only an item that became the earliest can make the loop's sleep too long.
        if heap[0][2] is item:
            self._wake.set()

    def redeliver(self, item: Outbound) -> None:
        """Try again later: the ESME refused it or its connection dropped."""
        item.attempts += 1
        self.schedule(item, self._redeliver_delay_s)

    def _pick(self, system_id: str) -> Receiver | None:
        group = self._receivers.get(system_id)
        if not group:
            return None
        start = self._rotation.get(system_id, 0)
        for i in range(len(group)):
            receiver = group[(start + i) % len(group)]
            if receiver.has_capacity():
                self._rotation[system_id] = start + i + 1
                return receiver
        return None

    def _dispatch(self, item: Outbound) -> None:
        receiver = self._pick(item.system_id)
        if receiver is not None:
            receiver.send_deliver(item)
        elif self.has_receiver(item.system_id):
            self.schedule(item, _WINDOW_FULL_RETRY_S)
        else:
            self._parked.setdefault(item.system_id, deque()).append(item)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        heap = self._heap
        while True:
            self._wake.clear()
            if not heap:
                await self._wake.wait()
                continue
            delay = heap[0][0] - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                continue
            now = loop.time()
            while heap and heap[0][0] <= now:
                _, _, item = heapq.heappop(heap)
                try:
                    self._dispatch(item)
                except Exception:  # one bad item must not stop every later receipt
                    log.exception("dropping undeliverable deliver_sm")
