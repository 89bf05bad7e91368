"""What a rate limiter is asked and what it answers, whatever its backend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Rate:
    """``per_s`` sustained, up to ``burst`` at once (the bucket's capacity)."""

    per_s: float
    burst: int = 1

    def __post_init__(self) -> None:
        if not self.per_s > 0:
            raise ValueError(f"per_s must be > 0, got {self.per_s}")
        if self.burst < 1:
            raise ValueError(f"burst must be >= 1, got {self.burst}")

    @property
    def interval_s(self) -> float:
        """The emission interval: one unit of the bucket refills in this long."""
        return 1.0 / self.per_s


@dataclass(frozen=True, slots=True)
class Bucket:
    """One limit on one subject: ``key`` names the subject, unique within the limiter."""

    key: str
    rate: Rate


@dataclass(frozen=True, slots=True)
class BucketState:
    """One bucket after a check.

    ``remaining``: units that may still be taken now; ``reset_after_s``: until
    the bucket is full again; ``retry_after_s``: until this request would fit
    (0 when it fits).
    """

    bucket: Bucket
    remaining: int
    reset_after_s: float
    retry_after_s: float


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for all the buckets of one request: allowed only if every one allows."""

    allowed: bool
    states: tuple[BucketState, ...]
    backend: str

    @property
    def tightest(self) -> BucketState:
        """The bucket that decided: the longest wait if denied, else the fewest left."""
        if self.allowed:
            return min(self.states, key=lambda s: (s.remaining, -s.reset_after_s))
        return max(self.states, key=lambda s: s.retry_after_s)

    @property
    def remaining(self) -> int:
        return self.tightest.remaining

    @property
    def reset_after_s(self) -> float:
        return self.tightest.reset_after_s

    @property
    def retry_after_s(self) -> float:
        return 0.0 if self.allowed else self.tightest.retry_after_s


@dataclass(frozen=True, slots=True)
class Reservation:
    """``cost`` units booked in a bucket; unit ``i`` (from 0) may go after ``wait_s(i)``."""

    first_wait_s: float
    interval_s: float
    cost: int

    def wait_s(self, index: int) -> float:
        wait = self.first_wait_s + index * self.interval_s
        # Float noise around "due now" is not worth a sleep.
        return wait if wait > 1e-6 else 0.0


class Limiter(Protocol):
    """Every backend (shared in Redis, local to the process, or one falling back to the other).

    ``check`` takes ``cost`` from every bucket or from none (deny); ``reserve``
    always books and says how long to wait: it paces, it never refuses.
    """

    async def check(self, buckets: Sequence[Bucket], cost: int = 1) -> Decision: ...

    async def reserve(self, requests: Sequence[tuple[Bucket, int]]) -> list[Reservation]: ...
