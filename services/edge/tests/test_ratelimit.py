"""The rate-limit middleware in a small aiohttp app, against the real Redis."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from libs import config
from libs.errors import NotFound
from services.edge import ratelimit
from services.edge.auth import PRINCIPAL_KEY
from services.edge.problems import problem_middleware
from services.edge.ratelimit import RateLimitConfig
from services.edge.tenants import Limit, Principal, Tenant
from tests.helpers.infra import REDIS_URL, free_port, unique_name
from tests.helpers.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration

# The test's stand-in for auth: who calls, and with which limits, comes from headers.
TENANT_PER_S = "X-Tenant-Per-S"
KEY_PER_S = "X-Key-Per-S"


@web.middleware
async def fake_auth(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.path.startswith("/v1/"):
        tenant_rate = request.headers.get(TENANT_PER_S)
        key_rate = request.headers.get(KEY_PER_S)
        request[PRINCIPAL_KEY] = Principal(
            Tenant(
                request.headers.get("X-Tenant", "ten_1"),
                "acme",
                "active",
                Limit(float(tenant_rate), int(float(tenant_rate))) if tenant_rate else None,
            ),
            "key_1",
            frozenset(),
            Limit(float(key_rate), int(float(key_rate))) if key_rate else None,
        )
    return await handler(request)


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def _missing(request: web.Request) -> web.Response:
    raise NotFound("no such thing")


def _app(settings: RateLimitConfig) -> web.Application:
    app = web.Application(
        middlewares=[problem_middleware, fake_auth, ratelimit.ratelimit_middleware]
    )
    ratelimit.setup(app, settings)
    app.router.add_get("/v1/ping", _ok)
    app.router.add_get("/v1/missing", _missing)
    app.router.add_get("/healthz", _ok)
    return app


@pytest.fixture
def settings() -> RateLimitConfig:
    return RateLimitConfig(
        redis_url=REDIS_URL, key_prefix=unique_name("rl"), default_per_s=2.0, default_burst=3
    )


@pytest.fixture
async def client(
    settings: RateLimitConfig,
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(_app(settings))) as c:
        yield c


async def test_the_default_burst_is_admitted_then_429_with_retry_after(
    client: TestClient[web.Request, web.Application],
) -> None:
    for remaining in (2, 1, 0):
        r = await client.get("/v1/ping")
        assert r.status == 200
        assert r.headers["RateLimit-Policy"] == '"tenant";q=3;w=2'
        assert re.fullmatch(f'"tenant";r={remaining};t=[12]', r.headers["RateLimit"])
    r = await client.get("/v1/ping")
    assert r.status == 429
    assert r.content_type == "application/problem+json"
    problem = await r.json(content_type=None)
    assert problem["type"] == "https://omnigate.dev/problems/rate-limited"
    assert "tenant's rate limit" in problem["detail"]
    assert r.headers["Retry-After"] == "1"  # 0.5 s rounded up
    assert r.headers["RateLimit-Policy"] == '"tenant";q=3;w=2'
    assert r.headers["RateLimit"] == '"tenant";r=0;t=2'


async def test_errors_after_auth_carry_the_headers_and_unauthenticated_routes_do_not(
    client: TestClient[web.Request, web.Application],
) -> None:
    r = await client.get("/v1/missing")
    assert r.status == 404
    assert r.headers["RateLimit"].startswith('"tenant";r=2;')
    r = await client.get("/healthz")
    assert r.status == 200
    assert "RateLimit" not in r.headers and "RateLimit-Policy" not in r.headers


async def test_a_key_limit_is_checked_with_the_tenant_and_the_tightest_decides(
    client: TestClient[web.Request, web.Application],
) -> None:
    headers = {TENANT_PER_S: "50", KEY_PER_S: "1"}
    r = await client.get("/v1/ping", headers=headers)
    assert r.status == 200
    assert r.headers["RateLimit-Policy"] == '"tenant";q=50;w=1, "key";q=1;w=1'
    assert r.headers["RateLimit"] == '"tenant";r=49;t=1, "key";r=0;t=1'
    r = await client.get("/v1/ping", headers=headers)
    assert r.status == 429
    assert "key's rate limit" in (await r.json(content_type=None))["detail"]
    # The denied request took nothing from the tenant.
    assert r.headers["RateLimit"] == '"tenant";r=49;t=1, "key";r=0;t=1'


async def test_tenants_have_separate_buckets(
    client: TestClient[web.Request, web.Application],
) -> None:
    for _ in range(3):
        assert (await client.get("/v1/ping", headers={"X-Tenant": "ten_a"})).status == 200
    assert (await client.get("/v1/ping", headers={"X-Tenant": "ten_a"})).status == 429
    assert (await client.get("/v1/ping", headers={"X-Tenant": "ten_b"})).status == 200


async def test_two_apps_on_one_redis_share_the_bucket(settings: RateLimitConfig) -> None:
    async with (
        TestClient(TestServer(_app(settings))) as one,
        TestClient(TestServer(_app(settings))) as two,
    ):
        statuses = [(await c.get("/v1/ping")).status for c in (one, two, one, two)]
    assert statuses == [200, 200, 200, 429]


async def test_without_redis_each_process_limits_alone_and_says_so(
    settings: RateLimitConfig,
) -> None:
    down = dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with TestClient(TestServer(_app(down))) as c:
        statuses = [(await c.get("/v1/ping")).status for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        assert (
            REGISTRY.get_sample_value("omnigate_ratelimit_fallback_active", {"limiter": "edge"})
            == 1.0
        )
        assert (
            REGISTRY.get_sample_value(
                "omnigate_ratelimit_decisions_total",
                {"limiter": "edge", "backend": "local", "outcome": "denied"},
            )
            or 0
        ) >= 1


async def test_a_slow_moment_keeps_the_limits_shared(settings: RateLimitConfig) -> None:
    # A Redis answer's time includes the wait for the edge's own event loop:
    # on a busy edge 0.1 s happens, and must not split the limits per process.
    redis = urlsplit(REDIS_URL)
    async with TcpProxy(redis.hostname or "127.0.0.1", redis.port or 6379) as proxy:
        slow = dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{proxy.port}/0")
        async with TestClient(TestServer(_app(slow))) as c:
            assert (await c.get("/v1/ping")).status == 200  # connected, script loaded
            proxy.freeze()
            asyncio.get_running_loop().call_later(0.1, proxy.thaw)
            assert (await c.get("/v1/ping")).status == 200
            assert (
                REGISTRY.get_sample_value("omnigate_ratelimit_fallback_active", {"limiter": "edge"})
                == 0.0
            )


def test_config_loads_from_the_environment_and_validates() -> None:
    loaded = config.load(
        RateLimitConfig,
        "OMNIGATE_RATELIMIT_",
        {"OMNIGATE_RATELIMIT_DEFAULT_PER_S": "5", "OMNIGATE_RATELIMIT_KEY_PREFIX": "x"},
    )
    assert (loaded.default_per_s, loaded.key_prefix) == (5.0, "x")
    with pytest.raises(config.ConfigError):
        config.load(RateLimitConfig, "P_", {"P_DEFAULT_BURST": "0"})
    with pytest.raises(ValueError, match="redis_timeout_s"):
        RateLimitConfig(redis_timeout_s=0)
