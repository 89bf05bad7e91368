"""Remembering what PostgreSQL holds until it says it changed (LISTEN/NOTIFY).

A process that looks the same rows up on every request (an API key, who
owns a number) keeps what it read; the writer sends ``NOTIFY <channel>``
in the transaction of its change (``notify``), and every listening process
forgets the moment that commits. While the listening connection is down
nothing can be trusted: ``trusted`` is False and what was kept is
forgotten, so callers read the database until the listener is back.

``Remembered`` is the cache that goes with it. A read that began before a
change and ends after its notification arrived is not kept (the
generation moved on), so a stale value is never remembered after the
notification that should have cleared it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Generic, TypeVar

import asyncpg

log = logging.getLogger("omnigate.db")

K = TypeVar("K")
V = TypeVar("V")

RELISTEN_S = 1.0


async def notify(conn: asyncpg.Connection, channel: str) -> None:
    """Tell every listener of ``channel`` that what it kept changed (when this commits)."""
    await conn.execute("SELECT pg_notify($1, '')", channel)


class Invalidation:
    """Calls ``forget`` on every NOTIFY on ``channel``, and whenever it stops listening."""

    def __init__(self, dsn: str, channel: str, forget: Callable[[], None]) -> None:
        self._dsn = dsn
        self._channel = channel
        self._forget = forget
        self._listening = False
        self._task: asyncio.Task[None] | None = None

    @property
    def trusted(self) -> bool:
        """Whether what was kept since the last ``forget`` may be used."""
        return self._listening

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name=f"listen {self._channel}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        while True:
            try:
                conn = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("listener of %s cannot connect: %s", self._channel, exc)
                await asyncio.sleep(RELISTEN_S)
                continue
            closed = asyncio.Event()
            try:
                conn.add_termination_listener(lambda _conn, ev=closed: ev.set())
                await conn.add_listener(self._channel, lambda *_: self._forget())
                # Anything changed while nobody listened is forgotten too.
                self._forget()
                self._listening = True
                await closed.wait()
            finally:
                self._listening = False
                self._forget()
                with contextlib.suppress(Exception):
                    await conn.close()
            log.warning("listener of %s lost its connection; reconnecting", self._channel)
            await asyncio.sleep(RELISTEN_S)


class Remembered(Generic[K, V]):
    """Values read from PostgreSQL, kept for ``ttl_s`` at most and until ``channel`` says
    they changed; ``start``/``stop`` run its listener."""

    def __init__(self, dsn: str, channel: str, ttl_s: float, max_entries: int = 10_000) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._values: dict[K, tuple[float, V]] = {}
        self._generation = 0
        self._invalidation = Invalidation(dsn, channel, self.forget)

    async def start(self) -> None:
        await self._invalidation.start()

    async def stop(self) -> None:
        await self._invalidation.stop()

    def forget(self) -> None:
        self._values.clear()
        self._generation += 1

    def get(self, key: K) -> V | None:
        hit = self._values.get(key)
        if hit is None or not self._invalidation.trusted or hit[0] < time.monotonic():
            return None
        return hit[1]

    @property
    def generation(self) -> int:
        """Take it before reading the database; pass it to ``keep``."""
        return self._generation

    def keep(self, key: K, value: V, generation: int) -> None:
        """Remember ``value``, read after ``generation`` was taken, unless it changed since."""
        if generation != self._generation or not self._invalidation.trusted or self._ttl_s <= 0:
            return
        if len(self._values) >= self._max_entries:
            self._values.clear()
        self._values[key] = (time.monotonic() + self._ttl_s, value)

    def drop(self, key: K) -> None:
        self._values.pop(key, None)
