"""``Idempotency-Key`` on every POST: a retry gets the first response, the work is done once.

The key is scoped to the tenant and kept 24 hours. The first request with a
key claims it (a row with ``locked_until``), does the work, and stores its
response; a retry with the same key and the same request gets that response
replayed (``Idempotent-Replayed: true``); the same key with a different
request is a 422. A retry arriving while the first is still running waits
for it. If the first request's process died, its claim expires and the
retry takes over; the sms service keeps the key with the message it created
(unique per tenant), so even then only one message exists.

Errors (exceptions) store nothing: the request had no effect and may be
retried as it is.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
from aiohttp import web

from libs.db import TableGrowth
from libs.errors import FailedPrecondition, InvalidArgument
from services.edge.auth import TENANT_KEY

log = logging.getLogger("omnigate.edge.idempotency")

HEADER = "Idempotency-Key"
KEY = web.RequestKey("idempotency_key", str)
POOL_KEY = web.AppKey("idempotency_pool", asyncpg.Pool)
GROWTH_KEY = web.AppKey("idempotency_growth", TableGrowth)

MAX_KEY_LENGTH = 255
TTL = "24 hours"
LOCK_S = 30.0
WAIT_S = 10.0
_POLL_S = 0.05
# Response headers worth replaying; the rest (dates, request ids) belong to the retry.
_REPLAYED_HEADERS = ("Location",)


class IdempotencyKeyReused(InvalidArgument):
    """The key was used before with a different request."""


def _check_key(key: str) -> None:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise InvalidArgument.for_field(
            HEADER, f"must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"
        )


def _fingerprint(request: web.Request, body: bytes) -> bytes:
    return hashlib.sha256(f"{request.method} {request.path}\n".encode() + body).digest()


async def _claim(
    pool: asyncpg.Pool, tenant_id: str, key: str, fingerprint: bytes
) -> asyncpg.Record | None:
    """Claim the key (None), or return the row of the request that has it."""
    async with pool.acquire() as conn:
        row: asyncpg.Record | None = await conn.fetchrow(
            "INSERT INTO idempotency_keys (tenant_id, key, request_hash, locked_until)"
            f" VALUES ($1, $2, $3, now() + interval '{LOCK_S} seconds')"
            " ON CONFLICT (tenant_id, key) DO UPDATE SET"
            "   request_hash = EXCLUDED.request_hash, locked_until = EXCLUDED.locked_until,"
            "   response_status = NULL, response_type = NULL, response_headers = NULL,"
            "   response_body = NULL, created_at = now()"
            # Take over an expired key, or a claim whose request died (same request only).
            f" WHERE idempotency_keys.created_at < now() - interval '{TTL}'"
            "   OR (idempotency_keys.response_status IS NULL"
            "       AND idempotency_keys.locked_until < now()"
            "       AND idempotency_keys.request_hash = EXCLUDED.request_hash)"
            " RETURNING NULL",
            tenant_id, key, fingerprint,
        )  # fmt: skip
        if row is not None:
            return None
        existing: asyncpg.Record | None = await conn.fetchrow(
            "SELECT request_hash, response_status, response_type, response_headers,"
            " response_body, locked_until > now() AS running"
            " FROM idempotency_keys WHERE tenant_id = $1 AND key = $2",
            tenant_id, key,
        )  # fmt: skip
        return existing


def _replay(row: asyncpg.Record) -> web.Response:
    response = web.Response(
        body=row["response_body"], status=row["response_status"], content_type=row["response_type"]
    )
    response.headers.update(row["response_headers"] or {})
    response.headers["Idempotent-Replayed"] = "true"
    return response


@web.middleware
async def idempotency_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    key = request.headers.get(HEADER)
    if key is None or request.method != "POST" or TENANT_KEY not in request:
        return await handler(request)
    _check_key(key)
    tenant_id = request[TENANT_KEY].id
    fingerprint = _fingerprint(request, await request.read())
    pool = request.app[POOL_KEY]
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while (row := await _claim(pool, tenant_id, key, fingerprint)) is not None:
        if row["request_hash"] != fingerprint:
            raise IdempotencyKeyReused(
                f"this {HEADER} was used with a different request; use a new key"
            )
        if row["response_status"] is not None:
            return _replay(row)
        if asyncio.get_running_loop().time() > deadline:
            raise FailedPrecondition(f"a request with this {HEADER} is still in progress")
        await asyncio.sleep(_POLL_S)
    request.app[GROWTH_KEY].added("idempotency_keys", 1)
    request[KEY] = key
    try:
        response = await handler(request)
    except BaseException:
        await _release(pool, tenant_id, key)
        raise
    if isinstance(response, web.Response) and response.status < 500:
        await _store(pool, tenant_id, key, response)
    else:
        await _release(pool, tenant_id, key)
    return response


async def _store(pool: asyncpg.Pool, tenant_id: str, key: str, response: web.Response) -> None:
    headers = {h: response.headers[h] for h in _REPLAYED_HEADERS if h in response.headers}
    body = response.body if isinstance(response.body, bytes) else b""
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE idempotency_keys SET response_status = $3, response_type = $4,"
            " response_headers = $5, response_body = $6, locked_until = NULL"
            " WHERE tenant_id = $1 AND key = $2",
            tenant_id, key, response.status, response.content_type, headers, body,
        )  # fmt: skip


async def _release(pool: asyncpg.Pool, tenant_id: str, key: str) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2"
            " AND response_status IS NULL",
            tenant_id, key,
        )  # fmt: skip


def setup(app: web.Application, pool_of: Callable[[], asyncpg.Pool]) -> None:
    """Bind the pool, prune keys past their 24 hours in the background, analyse as keys come."""

    async def maintain(app: web.Application) -> AsyncIterator[None]:
        app[POOL_KEY] = pool_of()
        app[GROWTH_KEY] = TableGrowth(app[POOL_KEY])
        task = asyncio.create_task(_prune_forever(app[POOL_KEY]))
        yield
        task.cancel()
        await app[GROWTH_KEY].close()

    app.cleanup_ctx.append(maintain)


async def _prune_forever(pool: asyncpg.Pool) -> None:
    while True:
        try:
            async with pool.acquire() as conn:
                await conn.execute(
                    f"DELETE FROM idempotency_keys WHERE created_at < now() - interval '{TTL}'"
                )
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("pruning idempotency keys failed: %s", exc)
        await asyncio.sleep(600)


def key_of(request: web.Request) -> str:
    """The request's Idempotency-Key, or '' (for passing it on to a service)."""
    key: str = request.get(KEY, "")
    return key
