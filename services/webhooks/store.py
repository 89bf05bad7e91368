"""Deliveries and attempts in PostgreSQL: recorded in batches, claimed for retry, listed.

The senders write many rows per round trip (``unnest`` arrays, one
transaction per batch): at a couple of thousand webhooks a second one
statement per webhook would serialise on commits. Due retries are claimed
with ``FOR UPDATE SKIP LOCKED`` and leased by moving ``next_attempt_at``
past the attempt's timeout, so several sender processes share the work and
a crashed one's claims come due again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.webhooks import endpoints
from services.webhooks.retries import Decision
from services.webhooks.sender import Outcome

# Woken by a re-send, so it is attempted now rather than at the next poll.
DUE_CHANNEL = "webhook_deliveries_due"

_LIST_COLUMNS = (
    "d.id, d.endpoint_id, d.event_id, d.event_type, d.status, d.attempts, d.last_status_code,"
    " d.last_error, d.next_attempt_at, d.created_at, d.updated_at"
)


@dataclass(frozen=True, slots=True)
class NewDelivery:
    id: str
    tenant_id: str
    # Exactly one of the two: an endpoint, or a message's own status_callback URL.
    endpoint_id: str | None
    url: str | None
    event_id: str
    event_type: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Job:
    """A delivery to attempt now."""

    id: str
    tenant_id: str
    endpoint_id: str | None
    url: str | None
    payload: bytes
    retries: int


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    delivery_id: str
    decision: Decision
    endpoint_id: str | None
    # None: the delivery was settled without a request (e.g. its endpoint is disabled).
    attempt_id: str | None = None
    url: str = ""
    outcome: Outcome | None = None


async def recorded(conn: asyncpg.Connection, delivery_ids: Sequence[str]) -> set[str]:
    """Which of these deliveries are recorded already."""
    rows = await conn.fetch(
        "SELECT id FROM webhook_deliveries WHERE id = ANY($1::text[])", list(delivery_ids)
    )
    return {r["id"] for r in rows}


_RECORD_FIRST = (
    # One statement (atomic, one round trip): new deliveries in the state their first
    # attempt left them, and those attempts. A delivery an earlier run recorded is kept.
    "WITH deliveries AS ("
    " INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, url, event_id, event_type,"
    " payload, status, attempts, retries, last_status_code, last_error, next_attempt_at)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
    " $6::text[], $7::bytea[], $8::text[], $9::int[], $10::int[], $11::int[], $12::text[],"
    " $13::timestamptz[])"
    " ON CONFLICT DO NOTHING RETURNING id)"
    " INSERT INTO webhook_attempts"
    " (id, delivery_id, attempted_at, url, status_code, error, duration_ms)"
    " SELECT a.* FROM unnest($14::text[], $15::text[], $16::timestamptz[], $17::text[],"
    " $18::int[], $19::text[], $20::int[])"
    " AS a(id, delivery_id, attempted_at, url, status_code, error, duration_ms)"
    " WHERE a.delivery_id IN (SELECT id FROM deliveries)"
)


async def record_first(
    conn: asyncpg.Connection, items: Sequence[tuple[NewDelivery, AttemptRecord]]
) -> None:
    """Record new deliveries with their first attempt (endpoints that answered 410 disabled)."""
    args = (
        [d.id for d, _ in items],
        [d.tenant_id for d, _ in items],
        [d.endpoint_id for d, _ in items],
        [d.url for d, _ in items],
        [d.event_id for d, _ in items],
        [d.event_type for d, _ in items],
        [d.payload for d, _ in items],
        [r.decision.status for _, r in items],
        [int(r.outcome is not None) for _, r in items],
        [r.decision.retries for _, r in items],
        [r.outcome.status_code if r.outcome else None for _, r in items],
        [_error(r) for _, r in items],
        [r.decision.next_attempt_at for _, r in items],
        *_attempt_columns([r for _, r in items]),
    )
    await _execute_disabling_gone(conn, _RECORD_FIRST, args, [r for _, r in items])


async def _execute_disabling_gone(
    conn: asyncpg.Connection, sql: str, args: Sequence[Any], records: Sequence[AttemptRecord]
) -> None:
    """Run ``sql``; endpoints whose receiver answered 410 are disabled in the same transaction."""
    gone = sorted({r.endpoint_id for r in records if r.decision.disable_endpoint and r.endpoint_id})
    if not gone:
        await conn.execute(sql, *args)
        return
    async with conn.transaction():
        await conn.execute(sql, *args)
        await endpoints.disable(conn, gone, "the receiver answered 410 Gone")


def _attempt_columns(records: Sequence[AttemptRecord]) -> tuple[list[Any], ...]:
    """The attempts table's columns for the records that made a request."""
    made = [r for r in records if r.attempt_id is not None and r.outcome is not None]
    return (
        [r.attempt_id for r in made],
        [r.delivery_id for r in made],
        [r.outcome.attempted_at for r in made if r.outcome],
        [r.url for r in made],
        [r.outcome.status_code for r in made if r.outcome],
        [r.outcome.error for r in made if r.outcome],
        [r.outcome.duration_ms for r in made if r.outcome],
    )


async def claim_due(conn: asyncpg.Connection, limit: int, lease_s: float) -> list[Job]:
    """Up to ``limit`` pending deliveries whose time has come, leased for ``lease_s``."""
    rows = await conn.fetch(
        "WITH due AS (SELECT id FROM webhook_deliveries"
        " WHERE status = 'pending' AND next_attempt_at <= now()"
        " ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
        " UPDATE webhook_deliveries d"
        " SET next_attempt_at = now() + make_interval(secs => $2::float8)"
        " FROM due WHERE d.id = due.id"
        " RETURNING d.id, d.tenant_id, d.endpoint_id, d.url, d.payload, d.retries",
        limit,
        lease_s,
    )
    return [
        Job(r["id"], r["tenant_id"], r["endpoint_id"], r["url"], r["payload"], r["retries"])
        for r in rows
    ]


async def next_due_in_s(conn: asyncpg.Connection) -> float | None:
    """Seconds until the earliest pending delivery is due (negative: overdue)."""
    value = await conn.fetchval(
        "SELECT EXTRACT(EPOCH FROM min(next_attempt_at) - now())::float8"
        " FROM webhook_deliveries WHERE status = 'pending'"
    )
    return None if value is None else float(value)


_RECORD = (
    # One statement (atomic, one round trip): the attempts, then their deliveries' state.
    # A delivery deleted meanwhile (its endpoint was) is skipped, not an error.
    "WITH attempts AS ("
    " INSERT INTO webhook_attempts"
    " (id, delivery_id, attempted_at, url, status_code, error, duration_ms)"
    " SELECT a.* FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[],"
    " $5::int[], $6::text[], $7::int[])"
    " AS a(id, delivery_id, attempted_at, url, status_code, error, duration_ms)"
    " WHERE EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.id = a.delivery_id))"
    " UPDATE webhook_deliveries d SET status = u.status,"
    " attempts = d.attempts + u.attempted::int, retries = u.retries,"
    " last_status_code = CASE WHEN u.attempted THEN u.status_code"
    " ELSE d.last_status_code END,"
    " last_error = u.error, next_attempt_at = u.next_attempt_at, updated_at = now()"
    " FROM unnest($8::text[], $9::text[], $10::bool[], $11::int[], $12::int[], $13::text[],"
    " $14::timestamptz[])"
    " AS u(id, status, attempted, retries, status_code, error, next_attempt_at)"
    " WHERE d.id = u.id"
)


async def record(conn: asyncpg.Connection, records: Sequence[AttemptRecord]) -> None:
    """Store attempts and their deliveries' new state, atomically."""
    args = (
        *_attempt_columns(records),
        [r.delivery_id for r in records],
        [r.decision.status for r in records],
        [r.outcome is not None for r in records],
        [r.decision.retries for r in records],
        [r.outcome.status_code if r.outcome else None for r in records],
        [_error(r) for r in records],
        [r.decision.next_attempt_at for r in records],
    )
    await _execute_disabling_gone(conn, _RECORD, args, records)


def _error(r: AttemptRecord) -> str | None:
    if r.outcome is not None:
        return r.outcome.error
    return "the endpoint is disabled" if r.decision.status == "failed" else None


async def list_deliveries(
    conn: asyncpg.Connection, tenant_id: str, endpoint_id: str, limit: int, before: str | None
) -> list[asyncpg.Record]:
    """An endpoint's deliveries, newest first; ``before``: the last ID of the previous page."""
    return list(
        await conn.fetch(
            f"SELECT {_LIST_COLUMNS} FROM webhook_deliveries d"
            " WHERE d.endpoint_id = $1 AND d.tenant_id = $2 AND ($3::text IS NULL OR d.id < $3)"
            " ORDER BY d.id DESC LIMIT $4",
            endpoint_id,
            tenant_id,
            before,
            limit,
        )
    )


async def get_delivery(
    conn: asyncpg.Connection, tenant_id: str, endpoint_id: str, delivery_id: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {_LIST_COLUMNS} FROM webhook_deliveries d"
        " WHERE d.id = $1 AND d.endpoint_id = $2 AND d.tenant_id = $3",
        delivery_id,
        endpoint_id,
        tenant_id,
    )
    return row


async def list_attempts(
    conn: asyncpg.Connection, delivery_id: str, limit: int, after: str | None
) -> list[asyncpg.Record]:
    """A delivery's attempts, oldest first; ``after``: the last ID of the previous page."""
    return list(
        await conn.fetch(
            "SELECT id, delivery_id, attempted_at, url, status_code, error, duration_ms"
            " FROM webhook_attempts WHERE delivery_id = $1 AND ($2::text IS NULL OR id > $2)"
            " ORDER BY id LIMIT $3",
            delivery_id,
            after,
            limit,
        )
    )


async def resend(
    conn: asyncpg.Connection, tenant_id: str, endpoint_id: str, delivery_id: str
) -> asyncpg.Record | None:
    """Queue a delivery for an attempt now, with a fresh backoff ladder; None if not found."""
    async with conn.transaction():
        row: asyncpg.Record | None = await conn.fetchrow(
            "UPDATE webhook_deliveries d SET status = 'pending', retries = 0,"
            " next_attempt_at = now(), updated_at = now()"
            " WHERE d.id = $1 AND d.endpoint_id = $2 AND d.tenant_id = $3"
            f" RETURNING {_LIST_COLUMNS}",
            delivery_id,
            endpoint_id,
            tenant_id,
        )
        if row is not None:
            await conn.execute("SELECT pg_notify($1, '')", DUE_CHANNEL)
    return row
