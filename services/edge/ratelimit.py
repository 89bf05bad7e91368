"""Request rate limits shared by every edge replica (Redis GCRA). Placeholder: being built."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """Load with ``OMNIGATE_RATELIMIT_``."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "omnigate"
    default_per_s: float = 100.0
    default_burst: int = 200


def setup(app: web.Application, config: RateLimitConfig) -> None:
    """Attach the limiter (and its Redis client) to ``app``."""


@web.middleware
async def ratelimit_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    return await handler(request)
