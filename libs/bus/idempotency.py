"""Idempotent consumers: remember, in the consumer's own transaction, which messages took effect.

The bus delivers at least once (a relay that crashed before its commit
publishes again; a consumer that died before its ack gets the message
again). A handler claims the message id in the same transaction as its
effect; a redelivery finds the claim and skips the effect. Because the claim
commits or rolls back with the effect, "claimed" always means "done".

    async with pool.acquire() as conn, conn.transaction():
        if await first_time(conn, "sms.status", delivery.message_id):
            ...apply the effect...
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import asyncpg


async def first_time(conn: asyncpg.Connection, consumer: str, message_id: str) -> bool:
    """Claim ``message_id`` for ``consumer``; False if it was already processed (skip it).

    Call inside the transaction that applies the effect. A concurrent
    duplicate blocks on the claim until the first transaction ends, then
    sees it (commit) or gets it (rollback).
    """
    claimed = await conn.fetchval(
        "INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING RETURNING true",
        consumer,
        message_id,
    )
    return claimed is True


async def first_time_many(
    conn: asyncpg.Connection, consumer: str, message_ids: Iterable[str]
) -> set[str]:
    """Claim many ids in one round trip; returns those seen for the first time.

    For a batch handler: apply the effect only for the returned ids. An id
    repeated within ``message_ids`` is returned once.
    """
    unique = list(dict.fromkeys(message_ids))
    if not unique:
        return set()
    rows = await conn.fetch(
        "INSERT INTO processed_messages (consumer, message_id)"
        " SELECT $1, m FROM unnest($2::text[]) AS m"
        " ON CONFLICT DO NOTHING RETURNING message_id",
        consumer,
        unique,
    )
    return {r["message_id"] for r in rows}


async def prune_processed(conn: asyncpg.Connection, older_than: timedelta) -> int:
    """Forget claims older than ``older_than``; returns how many were deleted.

    Safe once no redelivery can be that old: choose it well above the
    longest retry delay plus the outbox's worst backlog (days, not minutes).
    """
    status = await conn.execute(
        "DELETE FROM processed_messages WHERE processed_at < now() - $1::interval", older_than
    )
    return int(status.split()[-1])
