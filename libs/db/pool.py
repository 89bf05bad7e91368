from __future__ import annotations

import asyncpg
import orjson
from prometheus_client import Counter

from libs.db.config import DatabaseConfig

# Every statement sent to PostgreSQL, by schema: the budget test of the hot
# path (tests/e2e/test_hot_path_budget.py) reads it to catch per-message work.
QUERIES = Counter(
    "omnigate_db_queries_total", "Statements sent to PostgreSQL (round trips)", ["schema"]
)


async def _init_connection(conn: asyncpg.Connection) -> None:
    # orjson instead of the stdlib json for jsonb columns: it is on the hot path.
    await conn.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=lambda v: orjson.dumps(v).decode(),
        decoder=orjson.loads,
    )


async def _reset_on_release(conn: asyncpg.Connection) -> None:
    """What a released connection needs before its next user, without a round trip.

    asyncpg's default reset sends ``pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL`` on every release: one extra round trip per
    acquire, about a third of all statements on the hot path. Our code leaves
    no such session state behind (advisory locks are released explicitly,
    listeners remove themselves, settings are SET LOCAL), so only a
    transaction left open by a bug is rolled back.
    """
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def create_pool(config: DatabaseConfig) -> asyncpg.Pool:
    """An asyncpg pool whose connections use the service's schema as search path.

    The schema is created if it does not exist yet, so that a first start on an
    empty database works without a manual step.
    """
    if not config.schema:
        raise ValueError("DatabaseConfig.schema must be set to create a service pool")
    conn = await asyncpg.connect(config.dsn)
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{config.schema}"')
    finally:
        await conn.close()
    queries = QUERIES.labels(config.schema)

    async def init(conn: asyncpg.Connection) -> None:
        await _init_connection(conn)
        conn.add_query_logger(lambda _record: queries.inc())

    pool = await asyncpg.create_pool(
        config.dsn,
        min_size=config.min_size,
        max_size=config.max_size,
        command_timeout=config.command_timeout_s,
        init=init,
        reset=_reset_on_release,
        server_settings={"search_path": config.schema, "application_name": config.schema},
    )
    assert pool is not None
    return pool
