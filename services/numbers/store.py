"""Numbers in PostgreSQL: assignments, their settings, and who owns an address now.

Every change bumps the row's ``sequence`` and writes its event to the
outbox in the same transaction, so copies elsewhere (the sms service's)
see every change, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from libs.bus import OutboxWriter, Written
from libs.errors import AlreadyExists, NotFound
from libs.ids import new_id
from services.numbers import events
from services.numbers.model import Number

_COLUMNS = (
    "id, tenant_id, address, type, sms_url, voice_url, voice_fallback_url, status_callback,"
    " sequence, assigned_at, updated_at, released_at"
)


async def assign(
    pool: asyncpg.Pool, outbox: OutboxWriter, tenant_id: str, address: str, type_: int
) -> Number:
    async with pool.acquire() as conn, conn.transaction():
        try:
            # A savepoint: after a unique violation the transaction still answers.
            async with conn.transaction():
                row = await conn.fetchrow(
                    f"""INSERT INTO numbers (id, tenant_id, address, type, assigned_at, updated_at)
                        VALUES ($1, $2, $3, $4, now(), now()) RETURNING {_COLUMNS}""",
                    new_id("num"),
                    tenant_id,
                    address,
                    type_,
                )
        except asyncpg.UniqueViolationError:
            holder = await conn.fetchval(
                "SELECT tenant_id FROM numbers WHERE upper(address) = upper($1)"
                " AND released_at IS NULL",
                address,
            )
            whose = "this tenant" if holder == tenant_id else "another tenant"
            raise AlreadyExists(f"{address} is already assigned to {whose}") from None
        number = Number.of(row)
        written = await outbox.add(conn, [events.number_event("number.assigned", number)])
    outbox.committed(written)
    return number


async def release(pool: asyncpg.Pool, outbox: OutboxWriter, tenant_id: str, id_: str) -> Number:
    return await _change(
        pool,
        outbox,
        tenant_id,
        id_,
        "released_at = now()",
        [],
        "number.released",
    )


async def update(
    pool: asyncpg.Pool, outbox: OutboxWriter, tenant_id: str, id_: str, changes: dict[str, str]
) -> Number:
    assignments = ", ".join(f"{f} = ${i}" for i, f in enumerate(changes, start=3))
    return await _change(
        pool, outbox, tenant_id, id_, assignments, list(changes.values()), "number.updated"
    )


async def _change(
    pool: asyncpg.Pool,
    outbox: OutboxWriter,
    tenant_id: str,
    id_: str,
    assignments: str,
    values: Sequence[Any],
    event_type: str,
) -> Number:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"""UPDATE numbers SET {assignments}, sequence = sequence + 1, updated_at = now()
                 WHERE id = $1 AND tenant_id = $2 AND released_at IS NULL
             RETURNING {_COLUMNS}""",
            id_,
            tenant_id,
            *values,
        )
        if row is None:
            raise NotFound(f"number {id_!r} not found")
        number = Number.of(row)
        written: Written = await outbox.add(conn, [events.number_event(event_type, number)])
    outbox.committed(written)
    return number


async def get(conn: asyncpg.Connection, tenant_id: str, id_: str) -> Number | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM numbers WHERE id = $1 AND tenant_id = $2 AND released_at IS NULL",
        id_,
        tenant_id,
    )
    return None if row is None else Number.of(row)


async def list_page(
    conn: asyncpg.Connection, tenant_id: str, limit: int, before: str | None
) -> list[Number]:
    """The tenant's numbers, newest first (ids sort by time), from ``before`` on."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM numbers
             WHERE tenant_id = $1 AND released_at IS NULL AND ($2::text IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3""",
        tenant_id,
        before,
        limit,
    )
    return [Number.of(r) for r in rows]


async def owners(conn: asyncpg.Connection, addresses: Sequence[str]) -> list[Number]:
    """The current assignment of each of ``addresses`` that has one (matched exactly)."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM numbers
             WHERE upper(address) = ANY(SELECT upper(a) FROM unnest($1::text[]) a)
               AND released_at IS NULL""",
        list(addresses),
    )
    wanted = set(addresses)
    return [n for n in map(Number.of, rows) if n.address in wanted]
