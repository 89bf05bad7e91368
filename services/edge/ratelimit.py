"""Request rate limits per tenant and per API key, shared by every edge replica.

Each authenticated /v1 request is checked against its tenant's bucket and,
when the key has a limit of its own, the key's bucket, in one Redis call
(``libs.ratelimit``, GCRA). A key without its own limit is bounded by its
tenant's bucket alone: a second bucket with the same rate could never be the
tighter one. A tenant without its own limit gets the configured default.

A denied request is a 429 problem with ``Retry-After`` (``problems.py``).
Every response to an authenticated request, 429s and errors included,
carries the quota headers of draft-ietf-httpapi-ratelimit-headers-10
(September 2025), Structured Field lists with one item per policy::

    RateLimit-Policy: "tenant";q=200;w=2, "key";q=10;w=1
    RateLimit: "tenant";r=42;t=1, "key";r=0;t=1

``q`` is the bucket's burst and ``w`` the seconds it takes to refill (a
GCRA bucket is a quota of ``burst`` per ``burst / per_s`` seconds, sliding);
``r`` is what may still be sent now and ``t`` the seconds until the bucket is
full again. If Redis is unreachable or slow, each replica limits alone (see
``libs.ratelimit.fallback``).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache

from aiohttp import web
from redis.asyncio import Redis

from libs.errors import ResourceExhausted
from libs.ratelimit import Bucket, Decision, FallbackLimiter, Limiter, Rate, RedisLimiter
from services.edge.auth import PRINCIPAL_KEY
from services.edge.tenants import Limit, Principal


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """Load with ``OMNIGATE_RATELIMIT_``.

    ``key_prefix`` namespaces the Redis keys (one per deployment);
    ``redis_timeout_s`` bounds each Redis call before the process limits
    alone, and ``redis_retry_every_s`` is how often it then tries Redis again.
    """

    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "omnigate"
    default_per_s: float = 100.0
    default_burst: int = 200
    # A call's time includes the wait for this process's event loop: at 0.05 s
    # a saturated edge fell back to per-process limits about once per 1,300
    # requests (make bench), with Redis answering in well under a millisecond.
    redis_timeout_s: float = 0.25
    redis_retry_every_s: float = 5.0

    def __post_init__(self) -> None:
        if not self.redis_url:
            raise ValueError("redis_url must not be empty")
        if not self.key_prefix:
            raise ValueError("key_prefix must not be empty")
        if not self.default_per_s > 0 or self.default_burst < 1:
            raise ValueError("default_per_s must be > 0 and default_burst >= 1")
        if not self.redis_timeout_s > 0 or not self.redis_retry_every_s > 0:
            raise ValueError("redis_timeout_s and redis_retry_every_s must be > 0")


class RequestLimiter:
    """The edge's policies (which buckets a principal has) over a generic limiter."""

    def __init__(self, limiter: Limiter, default: Limit) -> None:
        self.limiter = limiter
        self._default = default

    async def check(self, principal: Principal) -> Decision:
        tenant = Bucket(
            f"edge:tenant:{principal.tenant.id}", _rate(principal.tenant.limit or self._default)
        )
        if principal.key_limit is None:
            return await self.limiter.check((tenant,))
        key = Bucket(f"edge:key:{principal.key_id}", _rate(principal.key_limit))
        return await self.limiter.check((tenant, key))


LIMITER_KEY = web.AppKey("ratelimiter", RequestLimiter)
DECISION_KEY = web.RequestKey("ratelimit_decision", Decision)
# Policy names in the headers, in the order RequestLimiter passes the buckets.
_POLICIES = ("tenant", "key")


def setup(app: web.Application, config: RateLimitConfig) -> None:
    """Attach the limiter (and its Redis client) to ``app``, and the headers to its responses."""

    async def limiter(app: web.Application) -> AsyncIterator[None]:
        # No connection is made here: an edge starts (and limits locally) with Redis down.
        redis = Redis.from_url(config.redis_url, socket_connect_timeout=config.redis_timeout_s)
        shared = FallbackLimiter(
            RedisLimiter(redis, config.key_prefix),
            name="edge",
            timeout_s=config.redis_timeout_s,
            retry_every_s=config.redis_retry_every_s,
        )
        app[LIMITER_KEY] = RequestLimiter(shared, Limit(config.default_per_s, config.default_burst))
        yield
        await redis.aclose()

    app.cleanup_ctx.append(limiter)
    # A signal, not the middleware: problem responses are made outside it, and must carry them too.
    app.on_response_prepare.append(_add_headers)


@web.middleware
async def ratelimit_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    principal = request.get(PRINCIPAL_KEY)
    if principal is None:
        return await handler(request)
    decision = await request.app[LIMITER_KEY].check(principal)
    request[DECISION_KEY] = decision
    if not decision.allowed:
        tightest = decision.tightest
        name = _POLICIES[decision.states.index(tightest)]
        rate = tightest.bucket.rate
        raise ResourceExhausted(
            f"the {name}'s rate limit ({rate.per_s:g} requests/s, bursts of {rate.burst})"
            f" is used up; retry in {tightest.retry_after_s:.2f} s",
            retry_after_s=tightest.retry_after_s,
        )
    return await handler(request)


async def _add_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    decision = request.get(DECISION_KEY)
    if decision is None:
        return
    rates = tuple(s.bucket.rate for s in decision.states)
    response.headers["RateLimit-Policy"] = _policy_header(rates)
    response.headers["RateLimit"] = ", ".join(
        f'"{name}";r={s.remaining};t={math.ceil(s.reset_after_s)}'
        for name, s in zip(_POLICIES, decision.states, strict=False)
    )


@lru_cache(maxsize=1024)
def _rate(limit: Limit) -> Rate:
    return Rate(limit.per_s, limit.burst)


@lru_cache(maxsize=1024)
def _policy_header(rates: tuple[Rate, ...]) -> str:
    return ", ".join(
        f'"{name}";q={rate.burst};w={max(1, math.ceil(rate.burst / rate.per_s))}'
        for name, rate in zip(_POLICIES, rates, strict=False)
    )
