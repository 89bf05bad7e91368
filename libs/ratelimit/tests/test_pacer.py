"""Per-subject pacing against the real Redis: over the rate waits, never refuses."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from libs.ratelimit import FallbackLimiter, Pacer, Rate, RedisLimiter
from tests.helpers.infra import REDIS_URL, free_port, unique_name

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def _send(pacer: Pacer, subjects: list[str], sent: list[tuple[str, float]]) -> None:
    """What a worker does with one batch: book it, then each item goes after its wait."""

    async def go(subject: str, wait_s: float) -> None:
        await asyncio.sleep(wait_s)
        sent.append((subject, time.monotonic()))

    waits = await pacer.waits(subjects)
    await asyncio.gather(*(go(s, w) for s, w in zip(subjects, waits, strict=True)))


async def test_two_workers_share_a_senders_rate_of_5_per_s(redis: Redis) -> None:
    prefix = unique_name("pace")
    rate = Rate(per_s=5, burst=1)
    # Two workers (two limiters on one Redis), each with a batch holding 5 of the sender's messages.
    workers = [
        # A generous timeout: on a busy machine the default 50 ms would fall back to
        # pacing alone, which is another test's subject.
        Pacer(
            FallbackLimiter(RedisLimiter(redis, prefix), name="test-pace", timeout_s=2.0),
            rate,
            "sender",
        )
        for _ in range(2)
    ]
    sent: list[tuple[str, float]] = []
    started = time.monotonic()
    await asyncio.gather(
        *(_send(w, ["+447700900100"] * 5 + ["+447700900999"], sent) for w in workers)
    )
    paced = sorted(t - started for s, t in sent if s == "+447700900100")
    assert len(paced) == 10  # all sent, none refused
    assert 1.7 <= paced[-1] <= 2.3  # 10 at 5/s: the last goes 1.8 s after the first
    gaps = [b - a for a, b in itertools.pairwise(paced)]
    assert min(gaps) >= 0.15
    # Another sender is not held back by the busy one.
    other = [t - started for s, t in sent if s == "+447700900999"]
    assert len(other) == 2 and min(other) < 0.1


async def test_without_redis_a_worker_paces_alone() -> None:
    down = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.05)
    limiter = FallbackLimiter(RedisLimiter(down, unique_name("pace")), name="test-pace-down")
    try:
        waits = await Pacer(limiter, Rate(per_s=5), "sender").waits(["a"] * 4 + ["b"])
    finally:
        await down.aclose()
    assert limiter.using_fallback
    assert waits == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.0])
