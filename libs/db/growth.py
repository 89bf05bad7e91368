"""Statistics for tables that grow from empty, whether autovacuum runs or not.

asyncpg prepares every statement, and PostgreSQL keeps a prepared
statement's generic plan (and every foreign key check's) on the connection
until a table it reads is analysed. Planned while the table was small, a
lookup by key is a sequential scan, and it stays one as the table grows. In
a bench of 15,000 messages every batch of status updates came to scan the
whole messages table (7.5 ms a statement, and growing); after one ANALYZE
the same statements used the primary key, and statements slower than 3 ms
fell from 75 to 5 a second. Autovacuum analyses a table once enough of it
changed, but it may be off (as on our CI machines) or not have come round
yet after a fresh install.

So whoever fills a table analyses it, each time the rows it added since it
started doubled (from ``min_rows``): a handful of times in a table's life.
A plan that suits a table of many thousand rows goes on suiting it as it
grows, so later ANALYZEs only refresh what autovacuum would.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

log = logging.getLogger("omnigate.db.growth")


class TableGrowth:
    """Counts the rows this process added to each table; analyses a table whose count doubled."""

    def __init__(self, pool: asyncpg.Pool, *, min_rows: int = 1000) -> None:
        if min_rows < 1:
            raise ValueError("min_rows must be at least 1")
        self._pool = pool
        self._min_rows = min_rows
        self._added: dict[str, int] = {}
        self._next: dict[str, int] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self.analyses = 0  # ANALYZEs that ran

    def added(self, table: str, rows: int) -> None:
        """``rows`` were committed to ``table`` (a name in the pool's search path)."""
        if rows <= 0:
            return
        total = self._added[table] = self._added.get(table, 0) + rows
        if total < self._next.get(table, self._min_rows) or table in self._running:
            return
        self._next[table] = total * 2
        task = asyncio.create_task(self._analyze(table), name=f"analyze {table}")
        self._running[table] = task
        task.add_done_callback(lambda _: self._running.pop(table, None))

    async def _analyze(self, table: str) -> None:
        try:
            async with self._pool.acquire() as conn:
                # SKIP_LOCKED: a replica (or autovacuum) analysing it now is not waited for.
                await conn.execute(f'ANALYZE (SKIP_LOCKED) "{table}"')
            self.analyses += 1
        except Exception:  # statistics are an optimisation: the next doubling tries again
            log.warning("analysing %s failed", table, exc_info=True)

    async def close(self) -> None:
        """Wait for the ANALYZEs in progress (before the pool closes)."""
        await asyncio.gather(*self._running.values(), return_exceptions=True)
