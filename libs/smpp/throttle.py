"""A token bucket, used both to pace an ESME and to police it in the dev SMSC."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst``; ``rate == 0`` never limits.

    ``reserve`` hands out future tokens (returns how long to wait), so many
    concurrent senders are paced in arrival order with one ``sleep`` each and
    no shared lock or waiter queue. ``try_take`` is the policing form: a token
    now or a refusal.
    """

    __slots__ = ("_clock", "_last", "_tokens", "burst", "rate")

    def __init__(
        self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        # A 1-token burst would force exact spacing that timer jitter cannot
        # keep; a tenth of a second's worth absorbs it without exceeding the
        # rate over any window a rate-limiting SMSC is likely to measure.
        self.burst = burst if burst is not None else max(1.0, rate / 10)
        self._clock = clock
        self._tokens = self.burst
        self._last = clock()

    def _refill(self) -> float:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        return now

    def try_take(self) -> bool:
        if self.rate <= 0:
            return True
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def reserve(self) -> float:
        """Take one token, possibly borrowed from the future; seconds to wait before using it."""
        if self.rate <= 0:
            return 0.0
        self._refill()
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate
