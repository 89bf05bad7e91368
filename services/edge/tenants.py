"""Tenants and API keys: the operator's operations, and the lookup behind every request.

Keys are 256-bit random secrets shown once; only their SHA-256 (enough for a
secret of that entropy) and a short prefix (to tell keys apart) are stored.
Every change that can refuse a key (revocation, suspension, new scopes or
limits) sends a NOTIFY on ``AUTH_CHANNEL`` in its transaction, so every edge
replica forgets what it cached the moment it commits.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from libs.errors import InvalidArgument, NotFound
from libs.ids import is_id, new_id
from services.edge.scopes import FULL, allows

KEY_PREFIX = "og_live_"
_PREFIX_SHOWN = len(KEY_PREFIX) + 6
AUTH_CHANNEL = "omnigate_edge_auth"
# The largest request limits: far above any real tenant's, and within what the
# columns hold (a double, an int4).
MAX_RATE = 1_000_000
MAX_BURST = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Limit:
    """A request rate: ``per_s`` sustained, ``burst`` at once."""

    per_s: float
    burst: int


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    status: str
    # None: the edge's default limit applies.
    limit: Limit | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the tenant, through which key, allowed to do what."""

    tenant: Tenant
    key_id: str
    scopes: frozenset[str]
    key_limit: Limit | None = None

    def allows(self, scope: str) -> bool:
        return allows(self.scopes, scope)


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    tenant_id: str
    name: str
    prefix: str
    scopes: frozenset[str]
    limit: Limit | None
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewKey:
    key: ApiKey
    secret: str


@dataclass(frozen=True, slots=True)
class NewTenant:
    tenant: Tenant
    api_key: str
    key_id: str
    webhook_secret: str


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _limit(per_s: float | None, burst: int | None) -> Limit | None:
    return Limit(per_s, burst or max(1, int(per_s))) if per_s else None


def _tenant(row: asyncpg.Record) -> Tenant:
    return Tenant(
        row["id"], row["name"], row["status"],
        _limit(row["rate_limit_per_s"], row["rate_limit_burst"]), row["created_at"],
    )  # fmt: skip


def _key(row: asyncpg.Record) -> ApiKey:
    return ApiKey(
        row["id"], row["tenant_id"], row["name"], row["prefix"], frozenset(row["scopes"]),
        _limit(row["rate_limit_per_s"], row["rate_limit_burst"]), row["created_at"],
        row["revoked_at"],
    )  # fmt: skip


async def _notify(conn: asyncpg.Connection, what: str) -> None:
    await conn.execute("SELECT pg_notify($1, $2)", AUTH_CHANNEL, what)


# The webhooks service's signing secret of a new tenant (``EnsureSigningSecret``).
SigningSecretOf = Callable[[str], Awaitable[str]]


async def create_tenant(
    conn: asyncpg.Connection,
    name: str,
    limit: Limit | None,
    signing_secret_of: SigningSecretOf,
) -> NewTenant:
    """A tenant with its first (full-scope) API key; the key is returned once.

    Its webhook signing secret is the webhooks service's, asked for first: a
    tenant never exists without one (a failure there creates nothing; one
    after it leaves only a secret nobody uses).
    """
    if not name.strip():
        raise InvalidArgument.for_field("name", "must not be empty")
    tenant_id = new_id("ten")
    secret = await signing_secret_of(tenant_id)
    async with conn.transaction():
        row = await conn.fetchrow(
            "INSERT INTO tenants (id, name, rate_limit_per_s, rate_limit_burst)"
            " VALUES ($1, $2, $3, $4) RETURNING *",
            tenant_id, name.strip(), limit.per_s if limit else None, limit.burst if limit else None,
        )  # fmt: skip
        first = await create_key(conn, tenant_id, name="default", scopes=frozenset({FULL}))
    return NewTenant(_tenant(row), first.secret, first.key.id, secret)


async def get_tenant(conn: asyncpg.Connection, tenant_id: str) -> Tenant:
    row = await conn.fetchrow("SELECT * FROM tenants WHERE id = $1", tenant_id)
    if row is None:
        raise NotFound(f"tenant {tenant_id!r} not found")
    return _tenant(row)


async def list_tenants(conn: asyncpg.Connection, limit: int, after_id: str | None) -> list[Tenant]:
    rows = await conn.fetch(
        "SELECT * FROM tenants WHERE $1::text IS NULL OR id > $1 ORDER BY id LIMIT $2",
        after_id, limit,
    )  # fmt: skip
    return [_tenant(r) for r in rows]


async def update_tenant(
    conn: asyncpg.Connection, tenant_id: str, changes: dict[str, Any]
) -> Tenant:
    """Apply ``changes`` (name, status, rate_limit_per_s, rate_limit_burst)."""
    allowed = {"name", "status", "rate_limit_per_s", "rate_limit_burst"}
    assert set(changes) <= allowed, changes
    if not changes:
        return await get_tenant(conn, tenant_id)
    sets = ", ".join(f"{col} = ${i}" for i, col in enumerate(changes, start=2))
    if "status" in changes:
        sets += ", suspended_at = CASE WHEN status = 'suspended' THEN now() END"
    async with conn.transaction():
        row = await conn.fetchrow(
            f"UPDATE tenants SET {sets} WHERE id = $1 RETURNING *", tenant_id, *changes.values()
        )
        if row is None:
            raise NotFound(f"tenant {tenant_id!r} not found")
        await _notify(conn, tenant_id)
    return _tenant(row)


async def create_key(
    conn: asyncpg.Connection,
    tenant_id: str,
    *,
    name: str = "",
    scopes: frozenset[str] = frozenset({FULL}),
    limit: Limit | None = None,
) -> NewKey:
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = await conn.fetchrow(
        "INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, scopes,"
        " rate_limit_per_s, rate_limit_burst)"
        " SELECT $1, id, $3, $4, $5, $6, $7, $8 FROM tenants WHERE id = $2 RETURNING *",
        new_id("key"), tenant_id, name, secret[:_PREFIX_SHOWN], hash_key(secret),
        sorted(scopes), limit.per_s if limit else None, limit.burst if limit else None,
    )  # fmt: skip
    if row is None:
        raise NotFound(f"tenant {tenant_id!r} not found")
    return NewKey(_key(row), secret)


async def list_keys(conn: asyncpg.Connection, tenant_id: str) -> list[ApiKey]:
    await get_tenant(conn, tenant_id)
    rows = await conn.fetch("SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY id", tenant_id)
    return [_key(r) for r in rows]


async def revoke_key(conn: asyncpg.Connection, tenant_id: str, key_id: str) -> ApiKey:
    """Revoke at once on every replica (idempotent: revoking twice keeps the first time)."""
    if not is_id(key_id, "key"):
        raise NotFound(f"key {key_id!r} not found")
    async with conn.transaction():
        row = await conn.fetchrow(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())"
            " WHERE tenant_id = $1 AND id = $2 RETURNING *",
            tenant_id, key_id,
        )  # fmt: skip
        if row is None:
            raise NotFound(f"key {key_id!r} not found")
        await _notify(conn, key_id)
    return _key(row)


async def principal_for_key(conn: asyncpg.Connection, key: str) -> Principal | None:
    """Who ``key`` authenticates: None if unknown, revoked, or its tenant is suspended."""
    row = await conn.fetchrow(
        "SELECT t.id, t.name, t.status, t.rate_limit_per_s AS t_rps, t.rate_limit_burst AS t_burst,"
        " k.id AS key_id, k.scopes, k.rate_limit_per_s AS k_rps, k.rate_limit_burst AS k_burst"
        " FROM api_keys k JOIN tenants t ON t.id = k.tenant_id"
        " WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND t.status = 'active'",
        hash_key(key),
    )
    if row is None:
        return None
    tenant = Tenant(row["id"], row["name"], row["status"], _limit(row["t_rps"], row["t_burst"]))
    return Principal(
        tenant, row["key_id"], frozenset(row["scopes"]), _limit(row["k_rps"], row["k_burst"])
    )
