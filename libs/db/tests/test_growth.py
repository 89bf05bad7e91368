"""Tables analysed as they grow: statements planned on a small table find rows by key."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from libs.db import TableGrowth
from tests.helpers.infra import schema_pool


@pytest.fixture
async def pool(database_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    async with schema_pool(database_dsn, "growth", []) as p:
        await p.execute("CREATE TABLE items (id text PRIMARY KEY, v int NOT NULL)")
        yield p


# A batch's keys: with this many the planner prefers the generic plan and keeps it.
KEYS = "'{" + ",".join(f"k{i}" for i in range(50)) + "}'"


async def _insert(conn: asyncpg.Connection, first: int, last: int) -> None:
    await conn.execute(
        "INSERT INTO items SELECT 'k' || i, i FROM generate_series($1::int, $2) AS i", first, last
    )


async def _plan(conn: asyncpg.Connection) -> str:
    """The plan the connection's prepared lookup now runs."""
    rows = await conn.fetch(f"EXPLAIN EXECUTE lookup({KEYS})")
    return "\n".join(r[0] for r in rows)


async def test_a_lookup_planned_on_a_small_table_uses_the_key_once_the_table_grew(
    pool: asyncpg.Pool,
) -> None:
    growth = TableGrowth(pool)
    async with pool.acquire() as conn:
        # Planned while the table is one page: a scan of it beats the index.
        await _insert(conn, 1, 5)
        await conn.execute("ANALYZE items")
        # As asyncpg prepares every statement: after five runs the plan is kept.
        await conn.execute("PREPARE lookup(text[]) AS SELECT v FROM items WHERE id = ANY($1)")
        for _ in range(6):
            await conn.execute(f"EXECUTE lookup({KEYS})")
        await _insert(conn, 6, 10_000)
        # What every batch of status updates ran: the whole table, at any size.
        assert "Seq Scan" in await _plan(conn)
        growth.added("items", 10_000)  # what the writer reports after its commits
        await growth.close()
        assert growth.analyses == 1
        assert "Index" in await _plan(conn)
        await conn.execute("DEALLOCATE lookup")


async def test_a_table_is_analysed_each_time_the_rows_added_doubled(pool: asyncpg.Pool) -> None:
    growth = TableGrowth(pool, min_rows=100)
    for rows, analyses in [(99, 0), (1, 1), (99, 1), (1, 2), (150, 2), (250, 3)]:
        growth.added("items", rows)
        await growth.close()
        assert growth.analyses == analyses


async def test_a_failed_analyse_is_logged_and_tried_at_the_next_doubling(
    pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    growth = TableGrowth(pool, min_rows=10)
    for rows in (10, 9, 1):
        growth.added("no_such_table", rows)
        await growth.close()
    assert growth.analyses == 0
    failures = [r for r in caplog.records if "analysing no_such_table failed" in r.getMessage()]
    assert len(failures) == 2  # at 10 rows and at 20
