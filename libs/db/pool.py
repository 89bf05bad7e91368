from __future__ import annotations

import asyncpg
import orjson

from libs.db.config import DatabaseConfig


async def _init_connection(conn: asyncpg.Connection) -> None:
    # orjson instead of the stdlib json for jsonb columns: it is on the hot path.
    await conn.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=lambda v: orjson.dumps(v).decode(),
        decoder=orjson.loads,
    )


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
    pool = await asyncpg.create_pool(
        config.dsn,
        min_size=config.min_size,
        max_size=config.max_size,
        command_timeout=config.command_timeout_s,
        init=_init_connection,
        server_settings={"search_path": config.schema, "application_name": config.schema},
    )
    assert pool is not None
    return pool
