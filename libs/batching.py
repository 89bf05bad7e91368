"""Micro-batching: collect what arrives within a few milliseconds, flush it as one.

One transaction, one round trip or one confirm wait then serves a whole
batch instead of one item, which is what lets the hot path keep every
guarantee (commit before ack, publisher confirms) at high rates on two
cores. Each caller still awaits the outcome of its own item.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger("omnigate.batching")


class _Failure:
    """An item's failure; a class of its own, as a result may itself be an exception."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


class MicroBatcher(Generic[T, R]):
    """Calls ``flush(items)`` with up to ``max_size`` items gathered for at most ``max_delay_s``.

    ``flush`` returns one result per item, in order, or raises: an exception
    fails every item of that batch (the transaction rolled back as a whole),
    unless ``split_on(exception)`` says the input is at fault. Then the batch
    is flushed again in halves, and halves of the halves that fail, so only
    the items that fail on their own fail, and one bad item among n costs
    about 2·log2(n) extra flushes. Only for flushes that are all or nothing
    (one transaction): a half flushed again must not repeat any effect.
    At most ``max_concurrency`` flushes run at once; a batch whose delay is
    over while they are all busy leaves as soon as one finishes, and grows
    until then (group commit): batches grow with load instead of queueing
    up small.
    """

    def __init__(
        self,
        flush: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
        *,
        max_size: int = 200,
        max_delay_s: float = 0.002,
        max_concurrency: int = 2,
        split_on: Callable[[Exception], bool] | None = None,
    ) -> None:
        if max_size < 1 or max_delay_s < 0 or max_concurrency < 1:
            raise ValueError("max_size and max_concurrency >= 1, max_delay_s >= 0")
        self._flush = flush
        self._split_on = split_on
        self._max_size = max_size
        self._max_delay_s = max_delay_s
        self._max_concurrency = max_concurrency
        self._running = 0
        self._items: list[T] = []
        self._futures: list[asyncio.Future[R]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._overdue = False  # items are due but every flush was busy
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    async def submit(self, item: T) -> R:
        if self._closed:
            raise RuntimeError("batcher is closed")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[R] = loop.create_future()
        self._items.append(item)
        self._futures.append(fut)
        if len(self._items) >= self._max_size:
            self._dispatch()
        elif self._timer is None and not self._overdue:
            self._timer = loop.call_later(self._max_delay_s, self._dispatch)
        return await fut

    def _dispatch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        # With every flush busy the items stay: the first flush to finish takes them.
        while self._items and self._running < self._max_concurrency:
            items, futures = self._items[: self._max_size], self._futures[: self._max_size]
            del self._items[: self._max_size], self._futures[: self._max_size]
            self._running += 1
            # A fresh context: the flush serves many callers, so it must not run in
            # (and parent its spans to) whichever caller happened to start it.
            task = asyncio.get_running_loop().create_task(
                self._run(items, futures), context=contextvars.Context()
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # What is left waits for a flush to finish, which takes it at once.
        self._overdue = bool(self._items)

    async def _run(self, items: list[T], futures: list[asyncio.Future[R]]) -> None:
        try:
            outcomes = await self._attempt(items, first=True)
        except BaseException as exc:  # cancelled: every caller learns it
            for f in futures:
                if not f.done():
                    f.set_exception(exc)
            raise
        finally:
            self._running -= 1
            # Only items kept waiting by busy flushes leave now; others gather
            # until their delay is over (leaving early makes batches small).
            if self._overdue:
                self._dispatch()
        for f, outcome in zip(futures, outcomes, strict=True):
            if f.done():
                continue
            if isinstance(outcome, _Failure):
                f.set_exception(outcome.error)
            else:
                f.set_result(outcome)

    async def _attempt(self, items: Sequence[T], *, first: bool = False) -> list[R | _Failure]:
        """Each item's result, or the failure it had in the smallest batch that failed."""
        try:
            results = await self._flush(items)
            if len(results) != len(items):
                raise RuntimeError(f"flush returned {len(results)} results for {len(items)}")
            return list(results)
        except Exception as exc:  # noqa: BLE001 - each item gets its failure
            if len(items) == 1 or self._split_on is None or not self._split_on(exc):
                return [_Failure(exc)] * len(items)
            if first:
                log.warning(
                    "a batch of %d failed (%s: %s); flushing it again in halves to find "
                    "the items at fault",
                    len(items),
                    type(exc).__name__,
                    exc,
                )
            half = len(items) // 2
            return [*await self._attempt(items[:half]), *await self._attempt(items[half:])]

    async def close(self) -> None:
        """Flush what is pending and wait for running flushes."""
        self._closed = True
        self._dispatch()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
