"""Isolation on the machine's real PostgreSQL, RabbitMQ and Redis.

Each test run gets its own database (``omnigate_t_<hex>``), its own bus name
prefix and its own Redis key prefix, so runs never see each other nor a
``make run`` platform that uses the default names.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg

# One free_port for platforms and tests, so that no two of them share a port.
from deploy.local.platform import free_port as free_port
from libs.db import DatabaseConfig, MigrationSource, create_pool, migrate

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
REDIS_URL = "redis://127.0.0.1:6379/0"


def unique_name(kind: str) -> str:
    return f"omnigate_t_{kind}_{secrets.token_hex(4)}"


@asynccontextmanager
async def temporary_database() -> AsyncIterator[str]:
    """Create a fresh database; yields its DSN; drops it afterwards."""
    name = unique_name("db")
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@asynccontextmanager
async def schema_pool(
    dsn: str,
    kind: str,
    migrations: Sequence[MigrationSource],
    max_size: int = 4,
) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh schema of ``dsn`` with ``migrations`` applied; dropped after."""
    config = DatabaseConfig(dsn=dsn, schema=unique_name(kind), min_size=1, max_size=max_size)
    pool = await create_pool(config)
    try:
        await migrate(pool, config.schema, list(migrations))
        yield pool
    finally:
        await pool.execute(f'DROP SCHEMA "{config.schema}" CASCADE')
        await pool.close()
