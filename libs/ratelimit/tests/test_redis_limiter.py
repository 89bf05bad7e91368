"""The shared limiter against the real Redis: the script agrees with the reference GCRA."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from libs.ratelimit import Bucket, FallbackLimiter, Rate, RedisLimiter
from tests.helpers.infra import REDIS_URL, free_port, unique_name

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
def limiter(redis: Redis) -> RedisLimiter:
    return RedisLimiter(redis, unique_name("rl"))


async def test_burst_then_deny_with_retry_after(limiter: RedisLimiter) -> None:
    bucket = Bucket("k", Rate(per_s=1, burst=3))
    decisions = [await limiter.check([bucket]) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[3].backend == "redis"
    assert 0.9 < decisions[3].retry_after_s <= 1.0
    assert 2.9 < decisions[2].reset_after_s <= 3.0


async def test_several_buckets_in_one_call_deny_together_and_take_nothing(
    limiter: RedisLimiter,
) -> None:
    # Slow enough that no unit comes back while the test runs on a busy machine.
    tenant = Bucket("tenant", Rate(per_s=1, burst=100))
    key = Bucket("key", Rate(per_s=0.5, burst=1))
    assert (await limiter.check([tenant, key])).allowed
    denied = await limiter.check([tenant, key])
    assert not denied.allowed
    assert denied.tightest.bucket == key
    assert 1.9 < denied.retry_after_s <= 2.0
    assert denied.states[0].remaining == 99
    # The tenant bucket alone still has only the first request taken.
    alone = await limiter.check([tenant])
    assert alone.remaining == 98


async def test_concurrent_checks_never_admit_more_than_the_burst(limiter: RedisLimiter) -> None:
    bucket = Bucket("k", Rate(per_s=0.1, burst=25))
    decisions = await asyncio.gather(*(limiter.check([bucket]) for _ in range(100)))
    assert sum(d.allowed for d in decisions) == 25


def count_script_calls(monkeypatch: pytest.MonkeyPatch, redis: Redis) -> list[int]:
    """How many script calls each pipeline the limiter sends carries."""
    counts: list[int] = []
    real = redis.pipeline

    def counting(*args: Any, **kwargs: Any) -> Any:
        pipe = real(*args, **kwargs)
        counts.append(0)
        evalsha = pipe.evalsha

        def evalsha_counted(*call: Any) -> Any:
            counts[-1] += 1
            return evalsha(*call)

        pipe.evalsha = evalsha_counted  # type: ignore[method-assign]
        return pipe

    monkeypatch.setattr(redis, "pipeline", counting)
    return counts


async def test_identical_checks_sent_together_are_one_script_call_deciding_in_turn(
    redis: Redis, limiter: RedisLimiter, monkeypatch: pytest.MonkeyPatch
) -> None:
    hot = Bucket("hot", Rate(per_s=0.1, burst=5))
    other = Bucket("other", Rate(per_s=0.1, burst=1))
    counts = count_script_calls(monkeypatch, redis)
    checks = [limiter.check([hot]) for _ in range(8)] + [limiter.check([other]) for _ in range(2)]
    decisions = await asyncio.gather(*checks)
    assert counts == [2]  # one round: the eight alike, the two alike
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 3 + [True, False]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0, 0, 0, 0, 0]
    assert all(9.9 < d.retry_after_s <= 10.0 for d in decisions if not d.allowed)


async def test_identical_reservations_sent_together_book_in_turn(
    redis: Redis, limiter: RedisLimiter, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = Bucket("sender", Rate(per_s=5, burst=1))
    counts = count_script_calls(monkeypatch, redis)
    booked = await asyncio.gather(*(limiter.reserve([(sender, 2)]) for _ in range(3)))
    assert counts == [1]
    waits = [r.wait_s(i) for (r,) in booked for i in range(2)]
    assert waits == pytest.approx([0.2 * i for i in range(6)], abs=0.01)


async def test_a_burst_of_checks_shares_a_few_connections() -> None:
    # Before pipelining, each concurrent check took a connection of its own.
    client = Redis.from_url(REDIS_URL, max_connections=2)
    try:
        limiter = RedisLimiter(client, unique_name("rl"))
        bucket = Bucket("k", Rate(per_s=0.1, burst=1000))
        decisions = await asyncio.gather(*(limiter.check([bucket]) for _ in range(300)))
        assert all(d.allowed for d in decisions)
        assert sorted(d.remaining for d in decisions) == list(range(700, 1000))
    finally:
        await client.aclose()


async def test_buckets_expire_once_full_again(redis: Redis) -> None:
    prefix = unique_name("rl")
    limiter = RedisLimiter(redis, prefix)
    await limiter.check([Bucket("k", Rate(per_s=10, burst=2))])
    ttl = await redis.pttl(f"{prefix}:ratelimit:k")
    assert 0 < ttl <= 101


async def test_a_flushed_script_is_loaded_again(redis: Redis, limiter: RedisLimiter) -> None:
    bucket = Bucket("k", Rate(per_s=10, burst=10))
    assert (await limiter.check([bucket])).allowed
    await redis.script_flush()
    decision = await limiter.check([bucket])
    assert decision.allowed and decision.remaining == 8


async def test_reserve_paces_ten_units_at_five_per_second(limiter: RedisLimiter) -> None:
    sender = Bucket("sender", Rate(per_s=5, burst=1))
    first, second = await limiter.reserve([(sender, 4), (sender, 6)])
    waits = [first.wait_s(i) for i in range(4)] + [second.wait_s(i) for i in range(6)]
    expected = [0.2 * i for i in range(10)]
    assert waits == pytest.approx(expected, abs=0.01)


async def test_unreachable_redis_falls_back_per_process_then_recovers(redis: Redis) -> None:
    down = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.05)
    clock = [0.0]
    limiter = FallbackLimiter(
        RedisLimiter(down, unique_name("rl")),
        name="test-fallback",
        retry_every_s=5.0,
        clock=lambda: clock[0],
    )
    bucket = Bucket("k", Rate(per_s=1, burst=2))
    try:
        decisions = [await limiter.check([bucket]) for _ in range(3)]
    finally:
        await down.aclose()
    assert [d.backend for d in decisions] == ["local"] * 3
    assert [d.allowed for d in decisions] == [True, True, False]
    assert limiter.using_fallback
    # The circuit stays open (no Redis call) until the retry time; then a probe closes it.
    limiter._primary = RedisLimiter(redis, unique_name("rl"))
    assert (await limiter.check([bucket])).backend == "local"
    clock[0] = 5.0
    assert (await limiter.check([bucket])).backend == "redis"
    assert not limiter.using_fallback


async def test_a_redis_that_never_answers_frees_the_pipeline_after_its_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)  # reads everything, answers nothing
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    hung = Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    limiter = RedisLimiter(hung, unique_name("rl"), call_timeout_s=0.1)
    bucket = Bucket("k", Rate(per_s=1, burst=1))
    try:
        for _ in range(3):  # each in turn: a hung call must not keep the next one waiting
            started = time.monotonic()
            with pytest.raises((TimeoutError, RedisError)):  # redis-py may re-raise its own
                await limiter.check([bucket])
            assert time.monotonic() - started < 1.0
    finally:
        await hung.aclose()
        server.close()
        await server.wait_closed()


class SlowLimiter(RedisLimiter):
    """A shared store that answers too late."""

    async def check(self, buckets: object, cost: int = 1) -> object:  # type: ignore[override]
        await asyncio.sleep(1)
        raise AssertionError("should have timed out")


async def test_a_slow_redis_is_abandoned_after_the_timeout(redis: Redis) -> None:
    limiter = FallbackLimiter(
        SlowLimiter(redis, unique_name("rl")), name="test-slow", timeout_s=0.05
    )
    started = time.monotonic()
    decision = await limiter.check([Bucket("k", Rate(per_s=1, burst=1))])
    assert time.monotonic() - started < 0.5
    assert decision.backend == "local" and decision.allowed
    assert limiter.using_fallback
