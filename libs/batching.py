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


class MicroBatcher(Generic[T, R]):
    """Calls ``flush(items)`` with up to ``max_size`` items gathered for at most ``max_delay_s``.

    ``flush`` returns one result per item, in order, or raises: an exception
    fails every item of that batch (the transaction rolled back as a whole).
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
    ) -> None:
        if max_size < 1 or max_delay_s < 0 or max_concurrency < 1:
            raise ValueError("max_size and max_concurrency >= 1, max_delay_s >= 0")
        self._flush = flush
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
            results = await self._flush(items)
            if len(results) != len(items):
                raise RuntimeError(f"flush returned {len(results)} results for {len(items)}")
        except BaseException as exc:
            for f in futures:
                if not f.done():
                    f.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        finally:
            self._running -= 1
            # Only items kept waiting by busy flushes leave now; others gather
            # until their delay is over (leaving early makes batches small).
            if self._overdue:
                self._dispatch()
        for f, r in zip(futures, results, strict=True):
            if not f.done():
                f.set_result(r)

    async def close(self) -> None:
        """Flush what is pending and wait for running flushes."""
        self._closed = True
        self._dispatch()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
