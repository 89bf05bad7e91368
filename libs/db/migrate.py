"""Numbered SQL migrations per component, applied at start-up under an advisory lock.

A service applies the shared components it uses (e.g. the bus outbox) and its
own. Files are named ``NNNN_description.sql`` and each is applied once, in
its own transaction, in number order. Replicas starting together serialise on
a PostgreSQL advisory lock keyed by the schema, so exactly one applies them.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

log = logging.getLogger("omnigate.db")

_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class MigrationSource:
    component: str
    directory: Path

    def files(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.iterdir():
            m = _FILE.match(path.name)
            if m:
                found.append((int(m.group(1)), path))
            elif path.suffix == ".sql":
                raise ValueError(f"migration {path} is not named NNNN_description.sql")
        found.sort()
        versions = [v for v, _ in found]
        if len(set(versions)) != len(versions):
            raise ValueError(f"duplicate migration numbers in {self.directory}")
        return found


async def migrate(pool: asyncpg.Pool, schema: str, sources: list[MigrationSource]) -> int:
    """Apply pending migrations of ``sources`` in ``schema``; returns how many ran."""
    applied_now = 0
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"omnigate.migrate.{schema}")
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
                " component text NOT NULL, version int NOT NULL, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now(),"
                " PRIMARY KEY (component, version))"
            )
            for source in sources:
                rows = await conn.fetch(
                    f'SELECT version FROM "{schema}".schema_migrations WHERE component = $1',
                    source.component,
                )
                done = {r["version"] for r in rows}
                for version, path in source.files():
                    if version in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(f'SET LOCAL search_path TO "{schema}"')
                        await conn.execute(path.read_text())
                        await conn.execute(
                            f'INSERT INTO "{schema}".schema_migrations (component, version, name)'
                            " VALUES ($1, $2, $3)",
                            source.component,
                            version,
                            path.name,
                        )
                    log.info("applied migration %s/%s", source.component, path.name)
                    applied_now += 1
        finally:
            await conn.execute(
                "SELECT pg_advisory_unlock(hashtext($1))", f"omnigate.migrate.{schema}"
            )
    return applied_now
