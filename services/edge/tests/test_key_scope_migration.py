"""Keys issued before presets were kept by name become the preset they were issued with."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from libs.db import MigrationSource, migrate
from services.edge.schema import MIGRATIONS
from tests.helpers.infra import schema_pool

pytestmark = pytest.mark.integration

OLD = {
    "full": ["messages:read", "messages:write", "webhooks:read", "webhooks:write"],
    "read": ["webhooks:read", "messages:read"],
    "send": ["messages:write"],
    "own": ["messages:read", "messages:write"],
}


async def test_old_keys_holding_a_presets_scopes_become_that_preset(
    database_dsn: str, tmp_path: Path
) -> None:
    (source,) = MIGRATIONS
    for path in sorted(source.directory.glob("000[1-4]_*.sql")):
        shutil.copy(path, tmp_path)
    async with schema_pool(database_dsn, "keys", [MigrationSource("edge", tmp_path)]) as pool:
        await pool.execute(
            "INSERT INTO tenants (id, name, webhook_secret) VALUES ('ten_1', 'a', 'whsec_x')"
        )
        for name, scopes in OLD.items():
            await pool.execute(
                "INSERT INTO api_keys (id, tenant_id, prefix, key_hash, scopes)"
                " VALUES ($1, 'ten_1', 'og', $2, $3)",
                name,
                name.encode(),
                scopes,
            )
        schema = await pool.fetchval("SELECT current_schema()")
        assert await migrate(pool, schema, list(MIGRATIONS)) >= 1
        rows = await pool.fetch("SELECT id, scopes FROM api_keys")
    assert {r["id"]: r["scopes"] for r in rows} == {
        "full": ["full"],
        "read": ["read-only"],
        "send": ["send-only"],
        "own": ["messages:read", "messages:write"],
    }
