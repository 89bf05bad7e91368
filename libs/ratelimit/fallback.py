"""A shared limiter that falls back to a per-process one while the shared store fails.

Every call to the shared limiter is bounded by ``timeout_s`` (a slow Redis
must not slow every request). On a failure or timeout the circuit opens: the
process decides alone with its ``LocalLimiter`` and tries the shared limiter
again every ``retry_every_s``, one probe at a time. While open, each replica
enforces the whole limit by itself, so N replicas admit up to N times it:
availability is chosen over exactness, and the metrics and a warning (once
per transition) say so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from prometheus_client import Counter, Gauge
from redis.exceptions import RedisError

from libs.ratelimit.gcra import LocalLimiter
from libs.ratelimit.model import Bucket, Decision, Limiter, Reservation

log = logging.getLogger("omnigate.ratelimit")

FALLBACK_ACTIVE = Gauge(
    "omnigate_ratelimit_fallback_active",
    "1 while this process limits alone (shared store unreachable), else 0",
    ["limiter"],
)
DECISIONS = Counter(
    "omnigate_ratelimit_decisions",
    "Rate-limit decisions, by the backend that made them and their outcome",
    ["limiter", "backend", "outcome"],
)

T = TypeVar("T")


class FallbackLimiter:
    """``primary`` (shared) while it answers in time, else ``fallback`` (this process only)."""

    def __init__(
        self,
        primary: Limiter,
        *,
        name: str,
        fallback: LocalLimiter | None = None,
        timeout_s: float = 0.05,
        retry_every_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if timeout_s <= 0 or retry_every_s <= 0:
            raise ValueError("timeout_s and retry_every_s must be > 0")
        self._primary = primary
        self._fallback = fallback or LocalLimiter()
        self._name = name
        self._timeout_s = timeout_s
        self._retry_every_s = retry_every_s
        self._clock = clock
        self._retry_at: float | None = None  # None: the circuit is closed
        self._gauge = FALLBACK_ACTIVE.labels(name)
        self._gauge.set(0)
        # Children resolved once: labels() per decision would cost a lock and a dict walk.
        self._counters = {
            (backend, outcome): DECISIONS.labels(name, backend, outcome)
            for backend in ("redis", "local")
            for outcome in ("allowed", "denied", "reserved")
        }

    @property
    def using_fallback(self) -> bool:
        return self._retry_at is not None

    async def check(self, buckets: Sequence[Bucket], cost: int = 1) -> Decision:
        decision = await self._shared(lambda: self._primary.check(buckets, cost))
        if decision is None:
            decision = self._fallback.check_now(buckets, cost)
        outcome = "allowed" if decision.allowed else "denied"
        self._counters[(decision.backend, outcome)].inc()
        return decision

    async def reserve(self, requests: Sequence[tuple[Bucket, int]]) -> list[Reservation]:
        booked = await self._shared(lambda: self._primary.reserve(requests))
        backend = "redis"
        if booked is None:
            booked, backend = self._fallback.reserve_now(requests), "local"
        self._counters[(backend, "reserved")].inc(len(requests))
        return booked

    async def _shared(self, call: Callable[[], Awaitable[T]]) -> T | None:
        """The shared limiter's answer, or None if it must not or could not be asked."""
        if self._retry_at is not None:
            now = self._clock()
            if now < self._retry_at:
                return None
            # This caller probes; the others keep to the fallback meanwhile.
            self._retry_at = now + self._retry_every_s
        try:
            async with asyncio.timeout(self._timeout_s):
                result = await call()
        except (RedisError, OSError, TimeoutError) as exc:
            self._open(exc)
            return None
        if self._retry_at is not None:
            self._retry_at = None
            self._gauge.set(0)
            log.warning(
                "rate limiter %s: shared store is back, limits are shared again", self._name
            )
        return result

    def _open(self, exc: BaseException) -> None:
        if self._retry_at is None:
            self._gauge.set(1)
            log.warning(
                "rate limiter %s: shared store failed (%s); limiting per process until it is back",
                self._name,
                type(exc).__name__ if isinstance(exc, TimeoutError) else exc,
            )
        self._retry_at = self._clock() + self._retry_every_s
