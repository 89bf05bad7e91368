"""Pacing: space each subject's units at a rate by waiting, never by refusing.

A batch of items is booked in one ``reserve`` call (one Redis round trip
with the shared limiter), whatever its size and however many subjects it
holds; each item then learns how long to wait before it may go.
"""

from __future__ import annotations

from collections.abc import Sequence

from libs.ratelimit.model import Bucket, Limiter, Rate


class Pacer:
    """Every subject (a sender number, say) gets its own bucket of ``rate`` under ``namespace``."""

    def __init__(self, limiter: Limiter, rate: Rate, namespace: str) -> None:
        self._limiter = limiter
        self._rate = rate
        self._namespace = namespace

    async def waits(self, subjects: Sequence[str]) -> list[float]:
        """Seconds each item must wait, in order; the items of one subject go in turn."""
        counts: dict[str, int] = {}
        turns = []
        for subject in subjects:
            turn = counts.get(subject, 0)
            turns.append(turn)
            counts[subject] = turn + 1
        booked = await self._limiter.reserve(
            [(Bucket(f"{self._namespace}:{s}", self._rate), n) for s, n in counts.items()]
        )
        by_subject = dict(zip(counts, booked, strict=True))
        return [by_subject[s].wait_s(t) for s, t in zip(subjects, turns, strict=True)]
