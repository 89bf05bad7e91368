"""Webhook endpoints: a tenant's URLs for chosen event types, each with its own signing secret.

The types are those of the catalogue the services' protos declare
(``libs.events.catalog``), so a new service's events can be subscribed to
with no change here. Every change is announced with ``NOTIFY
webhook_endpoints, '<tenant id>'`` in the same transaction, so the
senders drop their cached copy of that tenant's endpoints as soon as it
commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from libs.events import catalog
from libs.ids import new_id
from services.webhooks.signing_secrets import new_secret

NOTIFY_CHANNEL = "webhook_endpoints"

_COLUMNS = (
    "id, tenant_id, url, description, event_types, secret, previous_secret,"
    " previous_secret_expires_at, disabled, disabled_reason, created_at, updated_at"
)


def invalid_event_types(types: Iterable[str]) -> list[str]:
    """The names that are neither a type some service publishes nor a wildcard of them."""
    known = catalog.event_types() | catalog.wildcards()
    return [t for t in types if t not in known]


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    tenant_id: str
    url: str
    description: str
    event_types: tuple[str, ...]
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    disabled: bool
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Endpoint:
        return cls(
            row["id"],
            row["tenant_id"],
            row["url"],
            row["description"],
            tuple(row["event_types"]),
            row["secret"],
            row["previous_secret"],
            row["previous_secret_expires_at"],
            row["disabled"],
            row["disabled_reason"],
            row["created_at"],
            row["updated_at"],
        )

    def signing_secrets(self, now: datetime) -> list[str]:
        """The current secret, then the previous one while its grace period lasts."""
        out = [self.secret]
        if (
            self.previous_secret
            and self.previous_secret_expires_at is not None
            and self.previous_secret_expires_at > now
        ):
            out.append(self.previous_secret)
        return out

    def wants(self, event_type: str) -> bool:
        return not self.disabled and catalog.matches(self.event_types, event_type)


async def _notify(conn: asyncpg.Connection, tenant_id: str) -> None:
    await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, tenant_id)


async def create(
    conn: asyncpg.Connection,
    tenant_id: str,
    url: str,
    event_types: Sequence[str],
    description: str,
) -> Endpoint:
    async with conn.transaction():
        row = await conn.fetchrow(
            "INSERT INTO webhook_endpoints (id, tenant_id, url, description, event_types, secret)"
            f" VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_COLUMNS}",
            new_id("whk"),
            tenant_id,
            url,
            description,
            list(event_types),
            new_secret(),
        )
        await _notify(conn, tenant_id)
    return Endpoint.from_row(row)


async def get(conn: asyncpg.Connection, tenant_id: str, endpoint_id: str) -> Endpoint | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2",
        endpoint_id,
        tenant_id,
    )
    return Endpoint.from_row(row) if row is not None else None


async def list_page(
    conn: asyncpg.Connection, tenant_id: str, limit: int, before: str | None
) -> list[Endpoint]:
    """Newest first; ``before``: the last ID of the previous page."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1"
        " AND ($2::text IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
        tenant_id,
        before,
        limit,
    )
    return [Endpoint.from_row(r) for r in rows]


async def update(
    conn: asyncpg.Connection, tenant_id: str, endpoint_id: str, changes: dict[str, Any]
) -> Endpoint | None:
    """Apply ``changes`` (url, event_types, description, disabled); None if not found."""
    sets = [f"{name} = ${i}" for i, name in enumerate(changes, start=3)]
    if "disabled" in changes:
        # Re-enabling clears why it was disabled; disabling by hand says so.
        sets.append(
            "disabled_reason = CASE WHEN $"
            f"{list(changes).index('disabled') + 3}::boolean THEN 'disabled by the tenant' END"
        )
    sets.append("updated_at = now()")
    async with conn.transaction():
        row = await conn.fetchrow(
            f"UPDATE webhook_endpoints SET {', '.join(sets)}"
            f" WHERE id = $1 AND tenant_id = $2 RETURNING {_COLUMNS}",
            endpoint_id,
            tenant_id,
            *changes.values(),
        )
        if row is not None:
            await _notify(conn, tenant_id)
    return Endpoint.from_row(row) if row is not None else None


async def delete(conn: asyncpg.Connection, tenant_id: str, endpoint_id: str) -> bool:
    async with conn.transaction():
        deleted = await conn.fetchval(
            "DELETE FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2 RETURNING id",
            endpoint_id,
            tenant_id,
        )
        if deleted is not None:
            await _notify(conn, tenant_id)
    return deleted is not None


async def rotate_secret(
    conn: asyncpg.Connection, tenant_id: str, endpoint_id: str, grace: timedelta
) -> Endpoint | None:
    """A new current secret; the old one keeps signing for ``grace``."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "UPDATE webhook_endpoints SET previous_secret = secret, secret = $3,"
            " previous_secret_expires_at = now() + $4, updated_at = now()"
            f" WHERE id = $1 AND tenant_id = $2 RETURNING {_COLUMNS}",
            endpoint_id,
            tenant_id,
            new_secret(),
            grace,
        )
        if row is not None:
            await _notify(conn, tenant_id)
    return Endpoint.from_row(row) if row is not None else None


async def of_tenants(conn: asyncpg.Connection, tenant_ids: list[str]) -> dict[str, list[Endpoint]]:
    """Every endpoint (enabled or not) of each tenant, for the senders' cache."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ANY($1::text[]) ORDER BY id",
        tenant_ids,
    )
    found: dict[str, list[Endpoint]] = {t: [] for t in tenant_ids}
    for row in rows:
        found[row["tenant_id"]].append(Endpoint.from_row(row))
    return found


async def disable(conn: asyncpg.Connection, endpoint_ids: Sequence[str], reason: str) -> None:
    """Disable endpoints (the receiver answered 410 Gone) and tell the senders."""
    rows = await conn.fetch(
        "UPDATE webhook_endpoints SET disabled = true, disabled_reason = $2, updated_at = now()"
        " WHERE id = ANY($1::text[]) AND NOT disabled RETURNING tenant_id",
        list(endpoint_ids),
        reason,
    )
    for tenant_id in {r["tenant_id"] for r in rows}:
        await _notify(conn, tenant_id)
