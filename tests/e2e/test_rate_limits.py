"""Two edge processes side by side share one tenant limit: together they admit no more."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest

from deploy.local.platform import Platform, PlatformConfig
from services.edge import tenants
from tests.e2e.conftest import running_platform
from tests.helpers.infra import unique_name

pytestmark = pytest.mark.e2e

RATE_PER_S = 40
BURST = 20
OFFERED_PER_S = 2 * RATE_PER_S
DURATION_S = 3.0


@pytest.fixture(scope="module")
async def two_edges(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Platform]:
    config = PlatformConfig.isolated(
        unique_name("rl"), edges=2, log_dir=str(tmp_path_factory.mktemp("rl") / "logs")
    )
    async with running_platform(config) as platform:
        yield platform


async def test_two_edges_together_admit_no_more_than_the_tenant_limit(
    two_edges: Platform,
) -> None:
    created = await two_edges.create_tenant("limited")
    # Before the first request: the edges cache a principal (and its limit) for a few seconds.
    conn = await asyncpg.connect(two_edges.config.dsn)
    try:
        await conn.execute(
            "UPDATE edge.tenants SET rate_limit_per_s = $1, rate_limit_burst = $2 WHERE id = $3",
            float(RATE_PER_S),
            BURST,
            created["tenant_id"],
        )
    finally:
        await conn.close()
    headers = {"Authorization": f"Bearer {created['api_key']}"}
    urls = [f"{url}/v1/messages?page_size=1" for url in two_edges.config.edge_urls]
    results: list[tuple[int, dict[str, str]]] = []

    async with aiohttp.ClientSession(headers=headers) as session:

        async def one(url: str) -> None:
            async with session.get(url) as r:
                await r.read()
                results.append((r.status, dict(r.headers)))

        # An open loop: each request leaves on schedule whatever the others' latency.
        total = int(OFFERED_PER_S * DURATION_S)
        start = time.monotonic()
        tasks = []
        for i in range(total):
            delay = start + i / OFFERED_PER_S - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(urls[i % 2])))
        span_s = time.monotonic() - start
        await asyncio.gather(*tasks)

    admitted = [h for s, h in results if s == 200]
    limited = [h for s, h in results if s == 429]
    assert len(admitted) + len(limited) == total, sorted({s for s, _ in results})
    expected = RATE_PER_S * span_s + BURST
    assert abs(len(admitted) - expected) <= 0.05 * expected, (len(admitted), expected)
    assert limited, "twice the limit was offered: some requests must have been limited"
    for h in admitted + limited:
        assert h["RateLimit-Policy"] == f'"tenant";q={BURST};w=1'
        assert h["RateLimit"].startswith('"tenant";r=')
    assert all(int(h["Retry-After"]) >= 1 for h in limited)


async def test_a_revoked_key_is_refused_at_once_by_every_edge(two_edges: Platform) -> None:
    """Both replicas cached the key; the revocation's NOTIFY empties both caches."""
    created = await two_edges.create_tenant("revoked-everywhere")
    headers = {"Authorization": f"Bearer {created['api_key']}"}
    urls = [f"{url}/v1/messages?page_size=1" for url in two_edges.config.edge_urls]
    async with aiohttp.ClientSession(headers=headers) as session:

        async def statuses() -> list[int]:
            out = []
            for url in urls:
                async with session.get(url) as r:
                    out.append(r.status)
            return out

        assert await statuses() == [200, 200]  # now cached by both edges
        conn = await asyncpg.connect(two_edges.config.dsn)
        try:
            await conn.execute("SET search_path TO edge")
            key_id = await conn.fetchval(
                "SELECT id FROM api_keys WHERE tenant_id = $1", created["tenant_id"]
            )
            await tenants.revoke_key(conn, created["tenant_id"], key_id)
        finally:
            await conn.close()
        deadline = time.monotonic() + 1.0  # milliseconds in practice; a TTL would be 60 s
        while (seen := await statuses()) != [401, 401] and time.monotonic() < deadline:  # noqa: ASYNC110 - polls two servers
            await asyncio.sleep(0.02)
    assert seen == [401, 401]
