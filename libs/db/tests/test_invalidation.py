"""What a process remembers from PostgreSQL, against the real server's LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from libs.db.invalidation import Remembered, notify

pytestmark = pytest.mark.integration

CHANNEL = "omnigate_test_remembered"


async def _trusted(cache: Remembered[str, int]) -> None:
    for _ in range(200):  # until its listener is up: before that nothing is kept
        cache.keep("probe", 1, cache.generation)
        if cache.get("probe") == 1:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the listener never came up")


async def test_a_notify_forgets_and_a_read_from_before_it_is_not_kept(database_dsn: str) -> None:
    cache: Remembered[str, int] = Remembered(database_dsn, CHANNEL, ttl_s=60)
    await cache.start()
    try:
        await _trusted(cache)
        cache.keep("a", 1, cache.generation)
        assert cache.get("a") == 1
        before = cache.generation  # a read begins...
        conn = await asyncpg.connect(database_dsn)
        try:
            await notify(conn, CHANNEL)  # ...a change commits and notifies...
        finally:
            await conn.close()
        for _ in range(200):
            if cache.get("a") is None:
                break
            await asyncio.sleep(0.01)
        assert cache.get("a") is None
        cache.keep("a", 1, before)  # ...and what the read found is stale: not kept
        assert cache.get("a") is None
        cache.keep("a", 2, cache.generation)
        assert cache.get("a") == 2
    finally:
        await cache.stop()


async def test_nothing_is_kept_while_nobody_listens() -> None:
    cache: Remembered[str, int] = Remembered("postgresql://127.0.0.1:1/none", CHANNEL, ttl_s=60)
    cache.keep("a", 1, cache.generation)  # never started: not trusted
    assert cache.get("a") is None
