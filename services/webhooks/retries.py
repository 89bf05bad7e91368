"""The retry policy: what an attempt's outcome means for its delivery, and when to try again.

A delivery gets a first attempt at once and then one retry per step of
``WebhookConfig.retry_delays_s`` (about three days in all by default);
after the last step fails it is ``failed`` and stays visible and
re-sendable through the API. Each delay is jittered by +-20 %, so the
webhooks of a receiver that was down for a while do not all come back at
the same instant. A 429 or 503 with a longer ``Retry-After`` is honoured
(up to a day). 410 Gone fails the delivery and disables its endpoint; a URL
the SSRF guard refuses fails it at once.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.webhooks.sender import Outcome, Result

JITTER = 0.2
# A receiver cannot push its retry further out than this.
MAX_RETRY_AFTER_S = 86400.0

PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"


def backoff_s(
    retries: int,
    ladder: Sequence[float],
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds until retry number ``retries + 1``, or None when the ladder is exhausted."""
    if retries >= len(ladder):
        return None
    base = ladder[retries]
    delay = base * (1 + JITTER * (2 * (rng or random).random() - 1))
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, MAX_RETRY_AFTER_S))
    return delay


@dataclass(frozen=True, slots=True)
class Decision:
    status: str
    # Failed attempts since the delivery was (re)queued, after this one.
    retries: int
    next_attempt_at: datetime | None
    # The receiver answered 410: its endpoint is to be disabled.
    disable_endpoint: bool = False


def decide(
    outcome: Outcome,
    retries: int,
    ladder: Sequence[float],
    rng: random.Random | None = None,
) -> Decision:
    """What becomes of a delivery whose attempt ended with ``outcome``."""
    if outcome.result is Result.SUCCEEDED:
        return Decision(SUCCEEDED, retries, None)
    if outcome.result is Result.GONE:
        return Decision(FAILED, retries, None, disable_endpoint=True)
    if outcome.result is Result.REFUSED:
        return Decision(FAILED, retries, None)
    delay = backoff_s(retries, ladder, outcome.retry_after_s, rng)
    if delay is None:
        return Decision(FAILED, retries, None)
    return Decision(PENDING, retries + 1, outcome.attempted_at + timedelta(seconds=delay))
