"""Each tenant's signing secret: what signs the webhooks of its resources' own callback URLs.

Made when the edge creates the tenant (``ensure``: the first call makes it,
every later one returns the same), and read by the senders with the
tenant's endpoints. Endpoints have secrets of their own.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence

import asyncpg


def new_secret() -> str:
    """Standard Webhooks: ``whsec_`` and the base64 of a random 256-bit HMAC key."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def ensure(conn: asyncpg.Connection, tenant_id: str) -> str:
    """The tenant's secret; made now if it has none (concurrent calls agree on one)."""
    await conn.execute(
        "INSERT INTO signing_secrets (tenant_id, secret) VALUES ($1, $2)"
        " ON CONFLICT (tenant_id) DO NOTHING",
        tenant_id,
        new_secret(),
    )
    # A statement of its own: it sees a row another call committed meanwhile.
    secret: str = await conn.fetchval(
        "SELECT secret FROM signing_secrets WHERE tenant_id = $1", tenant_id
    )
    return secret


async def of_tenants(conn: asyncpg.Connection, tenant_ids: Sequence[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT tenant_id, secret FROM signing_secrets WHERE tenant_id = ANY($1::text[])",
        list(tenant_ids),
    )
    return {r["tenant_id"]: r["secret"] for r in rows}
