"""Micro-batching consumer: the handler gets what arrived within a few milliseconds.

A handler that commits one transaction per message serialises on the WAL
flush (~4,000 commits/s on one connection here); given a batch it commits
all of it at once. Messages are collected until ``max_batch`` of them are
in hand (counted by ``weight``, e.g. the items a command carries) or
``max_wait_s`` passed since the first, then handed over while
the next batch is collected, so a quiet queue adds at most ``max_wait_s``
of latency. At most ``max_concurrency`` batches run at once; a batch whose
wait is over while they are all busy keeps growing and leaves when one
finishes, so a busy queue fills whole batches instead of starting a small
one every few milliseconds (each costs its handler's fixed round trips).

Settlement is per message, after the handler: acked on success. A
handler may return ``{delivery: error}`` for the ones that failed (the
rest are acked), or raise for the whole batch. Messages that failed with
an outage are handled again, with a capped backoff, until the dependency
is back (no retry is spent); an error a retry may mend sends them to the
delay queues; if the handler raises one no retry can mend, the batch is
handled again in halves until only the messages at fault fail, and those
are dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiormq.abc import DeliveredMessage
from opentelemetry import trace

from libs.bus.connection import Bus
from libs.bus.consumer import BaseConsumer, to_delivery
from libs.bus.message import Delivery
from libs.bus.topology import QueueSpec
from libs.faults import GaveUp, is_outage, is_retryable, outlast

log = logging.getLogger("omnigate.bus")

# What a delivery left to the broker "fails" with: it is not settled.
_LEFT = Exception("left to the broker: the consumer stopped while waiting out an outage")

BatchHandler = Callable[[Sequence[Delivery]], Awaitable[Mapping[Delivery, Exception] | None]]
Weight = Callable[[Delivery], int]


def _one(delivery: Delivery) -> int:
    return 1


class BatchConsumer(BaseConsumer):
    """Calls ``handler`` with up to ``max_batch`` messages; batches overlap up to the prefetch.

    The batch runs in one CONSUMER span linked to each message's publisher
    span (its child when the batch holds one message); ``Delivery.trace_context``
    lets the handler make per-message spans.
    """

    def __init__(
        self,
        bus: Bus,
        spec: QueueSpec,
        handler: BatchHandler,
        *,
        max_batch: int = 100,
        max_wait_s: float = 0.005,
        max_concurrency: int = 2,
        weight: Weight = _one,
        **kw: Any,
    ) -> None:
        super().__init__(bus, spec, **kw)
        if max_batch < 1 or max_concurrency < 1:
            raise ValueError("max_batch and max_concurrency must be at least 1")
        if max_wait_s < 0:
            raise ValueError("max_wait_s must not be negative")
        self._handler = handler
        self._max_batch = max_batch
        self._max_wait_s = max_wait_s
        self._max_concurrency = max_concurrency
        self._weight = weight
        # Each message with its weight; a batch takes messages until it weighs max_batch.
        self._buffer: list[tuple[DeliveredMessage, Delivery, int]] = []
        self._buffered = 0
        self._timer: asyncio.TimerHandle | None = None
        self._overdue = False  # messages are due but every batch was busy
        self._batches: set[asyncio.Task[None]] = set()

    async def _on_message(self, message: DeliveredMessage) -> None:
        self._taken()
        delivery = to_delivery(message, self._traced)
        weight = self._weight(delivery)
        self._buffer.append((message, delivery, weight))
        self._buffered += weight
        if self._buffered >= self._max_batch:
            self._flush()
        elif self._timer is None and not self._overdue:
            self._timer = asyncio.get_running_loop().call_later(self._max_wait_s, self._flush)

    async def _before_drain(self) -> None:
        self._flush()

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        # With every batch busy the buffer stays: the first batch to finish takes it.
        while self._buffer and len(self._batches) < self._max_concurrency:
            # At least one message, however heavy; then as many as fit in max_batch.
            taken = weight = 0
            while taken < len(self._buffer) and (
                taken == 0 or weight + self._buffer[taken][2] <= self._max_batch
            ):
                weight += self._buffer[taken][2]
                taken += 1
            batch = [(m, d) for m, d, _ in self._buffer[:taken]]
            del self._buffer[:taken]
            self._buffered -= weight
            task = asyncio.create_task(self._run(batch), name=f"{self.queue} batch")
            self._batches.add(task)
            task.add_done_callback(self._batch_done)
        # What is left waits for a batch to finish, which takes it at once.
        self._overdue = bool(self._buffer)

    def _batch_done(self, task: asyncio.Task[None]) -> None:
        self._batches.discard(task)
        # Only messages kept waiting by busy batches leave now; others gather
        # until their wait is over (leaving early makes batches small).
        if self._overdue:
            self._flush()

    async def _outcomes(self, deliveries: Sequence[Delivery]) -> dict[Delivery, Exception]:
        """The deliveries that failed, each with its error; ``_LEFT`` for those still
        waiting out an outage when the consumer stops (the broker redelivers them)."""
        failed: dict[Delivery, Exception] = {}
        pending = list(deliveries)

        async def handle_pending() -> None:
            # Those that met an outage are handled again, alone, until none does.
            nonlocal pending
            outcomes = await self._split_outcomes(pending)
            failed.update({d: e for d, e in outcomes.items() if not is_outage(e)})
            pending = [d for d in pending if d in outcomes and is_outage(outcomes[d])]
            if pending:
                raise outcomes[pending[0]]

        try:
            await outlast(handle_pending, self._waiting, stopping=lambda: self._stopping)
        except GaveUp:
            failed |= dict.fromkeys(pending, _LEFT)
        return failed

    async def _split_outcomes(self, deliveries: Sequence[Delivery]) -> dict[Delivery, Exception]:
        """The deliveries that failed in one handling, each with its error.

        A batch failed by a message (an error no retry can mend) is handled
        again in halves, so only the messages at fault are dead-lettered, not
        the innocent ones batched with them; handlers are idempotent, so a
        half handled again repeats nothing.
        """
        try:
            return dict(await self._handler(deliveries) or {})
        except Exception as exc:  # noqa: BLE001 - any failure is settled by the caller
            if len(deliveries) == 1 or is_retryable(exc):
                return dict.fromkeys(deliveries, exc)
            half = len(deliveries) // 2
            log.warning(
                "%s: a batch of %d failed (%s: %s); handling it in halves",
                self.queue,
                len(deliveries),
                type(exc).__name__,
                exc,
            )
            first = await self._split_outcomes(deliveries[:half])
            return first | await self._split_outcomes(deliveries[half:])

    async def _run(self, batch: list[tuple[DeliveredMessage, Delivery]]) -> None:
        deliveries = [d for _, d in batch]
        links = [
            trace.Link(trace.get_current_span(d.trace_context).get_span_context())
            for d in deliveries
            if d.trace_context is not None
        ]
        parent = deliveries[0].trace_context if len(deliveries) == 1 else None
        try:
            with self._span(
                parent,
                deliveries[0].message_id if len(deliveries) == 1 else None,
                deliveries[0].routing_key,
                links,
            ) as span:
                span.set_attribute("messaging.batch.message_count", len(deliveries))
                failed = await self._outcomes(deliveries)
                if failed:
                    first = next(iter(failed.values()))
                    span.record_exception(first)
                    span.set_status(
                        trace.Status(trace.StatusCode.ERROR, f"{len(failed)} messages failed")
                    )
                # Settled together, so the retries of a failed batch are
                # published with their confirms in flight at once.
                await asyncio.gather(
                    *(
                        self._settle(m, d, failed.get(d))
                        for m, d in batch
                        if failed.get(d) is not _LEFT
                    )
                )
        finally:
            self._released(len(batch))
