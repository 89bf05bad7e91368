"""Tenants and API keys: creation, and the lookup behind every authenticated request."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass

import asyncpg

from libs.ids import new_id

KEY_PREFIX = "og_live_"
_PREFIX_SHOWN = len(KEY_PREFIX) + 6


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


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the tenant, through which key, allowed to do what."""

    tenant: Tenant
    key_id: str
    scopes: frozenset[str]
    key_limit: Limit | None = None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


@dataclass(frozen=True, slots=True)
class NewTenant:
    tenant: Tenant
    api_key: str
    webhook_secret: str


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _new_webhook_secret() -> str:
    # Standard Webhooks: "whsec_" + base64 of the raw HMAC key.
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


async def create_tenant(conn: asyncpg.Connection, name: str) -> NewTenant:
    """A tenant with its first API key; the key is returned once and stored hashed."""
    if not name.strip():
        raise ValueError("tenant name must not be empty")
    tenant = Tenant(new_id("ten"), name.strip(), "active")
    secret = _new_webhook_secret()
    key = _new_key()
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO tenants (id, name, webhook_secret) VALUES ($1, $2, $3)",
            tenant.id,
            tenant.name,
            secret,
        )
        await conn.execute(
            "INSERT INTO api_keys (id, tenant_id, prefix, key_hash) VALUES ($1, $2, $3, $4)",
            new_id("key"),
            tenant.id,
            key[:_PREFIX_SHOWN],
            hash_key(key),
        )
    return NewTenant(tenant, key, secret)


def _limit(per_s: float | None, burst: int | None) -> Limit | None:
    return Limit(per_s, burst or max(1, int(per_s))) if per_s else None


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


async def webhook_secrets(conn: asyncpg.Connection, tenant_ids: list[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT id, webhook_secret FROM tenants WHERE id = ANY($1::text[])", tenant_ids
    )
    return {r["id"]: r["webhook_secret"] for r in rows}
