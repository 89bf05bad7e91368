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
class Tenant:
    id: str
    name: str
    status: str


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


async def tenant_for_key(conn: asyncpg.Connection, key: str) -> Tenant | None:
    """The active tenant owning an unrevoked ``key``, else None."""
    row = await conn.fetchrow(
        "SELECT t.id, t.name, t.status FROM api_keys k JOIN tenants t ON t.id = k.tenant_id"
        " WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND t.status = 'active'",
        hash_key(key),
    )
    return Tenant(row["id"], row["name"], row["status"]) if row else None


async def webhook_secrets(conn: asyncpg.Connection, tenant_ids: list[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT id, webhook_secret FROM tenants WHERE id = ANY($1::text[])", tenant_ids
    )
    return {r["id"]: r["webhook_secret"] for r in rows}
