"""The generic cell rate algorithm (GCRA), and a limiter that keeps it in process memory.

A bucket is one number, its theoretical arrival time (TAT): when it would be
empty of debt if nothing more came. Taking ``cost`` units pushes the TAT by
``cost`` emission intervals; a request fits if the pushed TAT is no more than
``burst`` intervals ahead of now. The Redis script (``redis_limiter``) does
the same arithmetic in microseconds; the functions here are its reference.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from libs.ratelimit.model import Bucket, BucketState, Decision, Rate, Reservation

# A nanosecond of slack: float sums of intervals must not deny a request that is exactly due.
EPSILON_S = 1e-9


@dataclass(frozen=True, slots=True)
class Outcome:
    """One bucket's evaluation: ``new_tat`` is what to store if the request is taken."""

    allowed: bool
    new_tat: float
    remaining: int
    reset_after_s: float
    retry_after_s: float


def evaluate(tat: float | None, now: float, rate: Rate, cost: int = 1) -> Outcome:
    """Would ``cost`` units fit in a bucket whose TAT is ``tat`` (None: never used)?"""
    interval = rate.interval_s
    tolerance = rate.burst * interval
    base = now if tat is None or tat < now else tat
    new_tat = base + cost * interval
    allow_at = new_tat - tolerance
    if now + EPSILON_S >= allow_at:
        remaining = math.floor((now - allow_at + EPSILON_S) / interval)
        return Outcome(True, new_tat, remaining, new_tat - now, 0.0)
    remaining = max(0, math.floor((tolerance - (base - now) + EPSILON_S) / interval))
    return Outcome(False, base, remaining, base - now, allow_at - now)


def reserve(tat: float | None, now: float, rate: Rate, cost: int) -> tuple[float, float]:
    """Book ``cost`` units: (new TAT, wait before the first unit, negative if none)."""
    interval = rate.interval_s
    base = now if tat is None or tat < now else tat
    return base + cost * interval, base + interval - rate.burst * interval - now


class LocalLimiter:
    """GCRA over a dict: exact, but per process (each replica admits its own share).

    It is the fallback while the shared store is unreachable, and the whole
    limiter where one process is all there is. ``clock`` is monotonic seconds.
    """

    backend = "local"

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._tats: dict[str, float] = {}

    def check_now(self, buckets: Sequence[Bucket], cost: int = 1) -> Decision:
        now = self._clock()
        outcomes = [evaluate(self._tats.get(b.key), now, b.rate, cost) for b in buckets]
        allowed = all(o.allowed for o in outcomes)
        if allowed:
            self._make_room(now, len(buckets))
            for b, o in zip(buckets, outcomes, strict=True):
                self._tats[b.key] = o.new_tat
        else:
            # Nothing was taken, so buckets that would have allowed still hold their units.
            outcomes = [
                evaluate(self._tats.get(b.key), now, b.rate, 0) if o.allowed else o
                for b, o in zip(buckets, outcomes, strict=True)
            ]
        states = tuple(
            BucketState(b, o.remaining, o.reset_after_s, o.retry_after_s)
            for b, o in zip(buckets, outcomes, strict=True)
        )
        return Decision(allowed, states, self.backend)

    def reserve_now(self, requests: Sequence[tuple[Bucket, int]]) -> list[Reservation]:
        now = self._clock()
        self._make_room(now, len(requests))
        out = []
        for bucket, cost in requests:
            new_tat, first_wait = reserve(self._tats.get(bucket.key), now, bucket.rate, cost)
            self._tats[bucket.key] = new_tat
            out.append(Reservation(first_wait, bucket.rate.interval_s, cost))
        return out

    async def check(self, buckets: Sequence[Bucket], cost: int = 1) -> Decision:
        return self.check_now(buckets, cost)

    async def reserve(self, requests: Sequence[tuple[Bucket, int]]) -> list[Reservation]:
        return self.reserve_now(requests)

    def _make_room(self, now: float, adding: int) -> None:
        if len(self._tats) + adding <= self._max_keys:
            return
        # A TAT in the past is a full bucket: forgetting it changes nothing.
        self._tats = {k: t for k, t in self._tats.items() if t > now}
        if len(self._tats) + adding > self._max_keys:
            self._tats.clear()
