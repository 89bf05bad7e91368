"""API-key authentication and scopes for /v1 routes (each route declares its scope: ``routes``).

``Authorization: Bearer og_live_...``. Verified keys are cached in the
process (a database round trip per request would cost more than the request
itself); a revocation, suspension or change of scopes anywhere sends a
NOTIFY that empties the cache of every replica when it commits. While the
listening connection is down the cache is not used at all, so nothing stale
is ever trusted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import asyncpg
from aiohttp import web

from libs.errors import PermissionDenied, Unauthenticated
from services.edge import routes, tenants
from services.edge.tenants import AUTH_CHANNEL, Principal, Tenant

log = logging.getLogger("omnigate.edge.auth")

PRINCIPAL_KEY = web.RequestKey("principal", Principal)
TENANT_KEY = web.RequestKey("tenant", Tenant)
_MAX_CACHE = 10_000
_RELISTEN_S = 1.0


class KeyVerifier:
    """Looks keys up in PostgreSQL, remembering verified ones until told otherwise."""

    def __init__(self, pool: asyncpg.Pool, dsn: str, ttl_s: float) -> None:
        self._pool = pool
        self._dsn = dsn
        self._ttl_s = ttl_s
        self._cache: dict[bytes, tuple[float, Principal]] = {}
        self._listening = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="auth-invalidation")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        def forget(*_: object) -> None:
            self._cache.clear()

        while True:
            try:
                conn = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("auth invalidation listener cannot connect: %s", exc)
                await asyncio.sleep(_RELISTEN_S)
                continue
            closed = asyncio.Event()
            try:
                conn.add_termination_listener(lambda _conn, ev=closed: ev.set())
                await conn.add_listener(AUTH_CHANNEL, forget)
                # Anything changed while we were not listening is forgotten too.
                self._cache.clear()
                self._listening = True
                await closed.wait()
            finally:
                self._listening = False
                self._cache.clear()
                with contextlib.suppress(Exception):
                    await conn.close()
            log.warning("auth invalidation listener lost its connection; reconnecting")
            await asyncio.sleep(_RELISTEN_S)

    async def verify(self, key: str) -> Principal:
        digest = tenants.hash_key(key)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now and self._listening:
            return hit[1]
        async with self._pool.acquire() as conn:
            principal = await tenants.principal_for_key(conn, key)
        if principal is None:
            self._cache.pop(digest, None)
            raise Unauthenticated("the API key is not valid, or was revoked")
        if self._ttl_s > 0 and self._listening:
            if len(self._cache) >= _MAX_CACHE:
                self._cache.clear()
            self._cache[digest] = (now + self._ttl_s, principal)
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
