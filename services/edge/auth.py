"""API-key authentication (``Authorization: Bearer og_live_...``) for /v1 routes."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import asyncpg
from aiohttp import web

from libs.errors import Unauthenticated
from services.edge import tenants
from services.edge.tenants import Principal, Tenant

PRINCIPAL_KEY = web.RequestKey("principal", Principal)
TENANT_KEY = web.RequestKey("tenant", Tenant)
_MAX_CACHE = 10_000


class KeyVerifier:
    """Looks keys up in PostgreSQL, remembering verified ones for ``ttl_s``.

    The cache keeps a database round trip off every request; it is keyed by
    the key's hash, never the key itself.
    """

    def __init__(self, pool: asyncpg.Pool, ttl_s: float) -> None:
        self._pool = pool
        self._ttl_s = ttl_s
        self._cache: dict[bytes, tuple[float, Principal]] = {}

    async def verify(self, key: str) -> Principal:
        digest = tenants.hash_key(key)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self._pool.acquire() as conn:
            principal = await tenants.principal_for_key(conn, key)
        if principal is None:
            self._cache.pop(digest, None)
            raise Unauthenticated("the API key is not valid, or was revoked")
        if self._ttl_s > 0:
            if len(self._cache) >= _MAX_CACHE:
                self._cache.clear()
            self._cache[digest] = (now + self._ttl_s, principal)
        return principal


VERIFIER_KEY = web.AppKey("key_verifier", KeyVerifier)


@web.middleware
async def auth_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if not request.path.startswith("/v1/") or request.path == "/v1/openapi.json":
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthenticated(
            "send your API key as 'Authorization: Bearer <key>'"
            if not header
            else "the Authorization header must be 'Bearer <key>'"
        )
    principal = await request.app[VERIFIER_KEY].verify(key.strip())
    request[PRINCIPAL_KEY] = principal
    request[TENANT_KEY] = principal.tenant
    return await handler(request)
