"""API-key authentication and scopes for /v1 routes (each route declares its scope: ``routes``).

``Authorization: Bearer og_live_...``. Verified keys are cached in the
process (a database round trip per request would cost more than the request
itself); a revocation, suspension or change of scopes anywhere sends a
NOTIFY that empties the cache of every replica when it commits. While the
listening connection is down the cache is not used at all, so nothing stale
is ever trusted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
from aiohttp import web

from libs.db.invalidation import Remembered
from libs.errors import PermissionDenied, Unauthenticated
from services.edge import routes, tenants
from services.edge.tenants import AUTH_CHANNEL, Principal, Tenant

PRINCIPAL_KEY = web.RequestKey("principal", Principal)
TENANT_KEY = web.RequestKey("tenant", Tenant)


class KeyVerifier:
    """Looks keys up in PostgreSQL, remembering verified ones until told otherwise."""

    def __init__(self, pool: asyncpg.Pool, dsn: str, ttl_s: float) -> None:
        self._pool = pool
        self._verified: Remembered[bytes, Principal] = Remembered(dsn, AUTH_CHANNEL, ttl_s)

    async def start(self) -> None:
        await self._verified.start()

    async def stop(self) -> None:
        await self._verified.stop()

    async def verify(self, key: str) -> Principal:
        digest = tenants.hash_key(key)
        hit = self._verified.get(digest)
        if hit is not None:
            return hit
        generation = self._verified.generation
        async with self._pool.acquire() as conn:
            principal = await tenants.principal_for_key(conn, key)
        if principal is None:
            self._verified.drop(digest)
            raise Unauthenticated("the API key is not valid, or was revoked")
        self._verified.keep(digest, principal, generation)
        return principal


VERIFIER_KEY = web.AppKey("key_verifier", KeyVerifier)


@web.middleware
async def auth_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    scope = routes.scope_of(request)
    if not request.path.startswith("/v1/") or scope == routes.PUBLIC:
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
    # No scope: no route matched, and the handler answers 404 or 405 to the caller.
    if scope is not None and not principal.allows(scope):
        raise PermissionDenied(f"this API key lacks the {scope!r} scope")
    request[PRINCIPAL_KEY] = principal
    request[TENANT_KEY] = principal.tenant
    return await handler(request)
