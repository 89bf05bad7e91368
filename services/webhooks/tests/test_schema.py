"""The webhooks schema on the real PostgreSQL: secrets made once, and an upgrade keeps its data."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from libs.db import DatabaseConfig, create_pool, migrate
from services.webhooks import signing_secrets
from services.webhooks.schema import MIGRATIONS, SCHEMA
from tests.helpers.infra import schema_pool, temporary_database

pytestmark = pytest.mark.integration

LEGACY = Path(__file__).with_name("legacy_edge_schema.sql")


async def test_a_tenants_signing_secret_is_made_once(database_dsn: str) -> None:
    async with (
        schema_pool(database_dsn, "webhooks", MIGRATIONS) as pool,
        pool.acquire() as conn,
    ):
        first = await signing_secrets.ensure(conn, "ten_1")
        again = await signing_secrets.ensure(conn, "ten_1")
        other = await signing_secrets.ensure(conn, "ten_2")
        found = await signing_secrets.of_tenants(conn, ["ten_1", "ten_2", "ten_3"])
    assert first == again and first.startswith("whsec_") and other != first
    assert found == {"ten_1": first, "ten_2": other}


async def _pool(dsn: str, schema: str) -> asyncpg.Pool:
    return await create_pool(DatabaseConfig(dsn=dsn, schema=schema, min_size=1, max_size=2))


async def test_an_installation_that_sent_webhooks_from_the_edge_keeps_them() -> None:
    async with temporary_database() as dsn:
        edge = await _pool(dsn, "edge")
        try:
            await edge.execute(LEGACY.read_text())
            await edge.execute(
                "INSERT INTO tenants (id, name, webhook_secret) VALUES ('ten_1', 'a', 'whsec_t')"
            )
            await edge.execute(
                "INSERT INTO webhook_endpoints (id, tenant_id, url, event_types, secret)"
                " VALUES ('whk_1', 'ten_1', 'https://example.com', '{message.*}', 'whsec_e')"
            )
            await edge.execute(
                "INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id,"
                " event_type, payload, next_attempt_at)"
                " VALUES ('dlv_1', 'ten_1', 'whk_1', 'evt_1', 'message.sent', '\\x7b7d', now())"
            )
            await edge.execute(
                "INSERT INTO webhook_attempts (id, delivery_id, attempted_at, url, duration_ms)"
                " VALUES ('att_1', 'dlv_1', now(), 'https://example.com', 12)"
            )
        finally:
            await edge.close()
        hooks = await _pool(dsn, SCHEMA)
        try:
            await migrate(hooks, SCHEMA, list(MIGRATIONS))
            secrets = await hooks.fetch("SELECT tenant_id, secret FROM signing_secrets")
            endpoint = await hooks.fetchrow("SELECT url, event_types FROM webhook_endpoints")
            pending = await hooks.fetchval(
                "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"
            )
            attempts = await hooks.fetchval("SELECT count(*) FROM webhook_attempts")
        finally:
            await hooks.close()
    assert [tuple(r) for r in secrets] == [("ten_1", "whsec_t")]
    assert tuple(endpoint) == ("https://example.com", ["message.*"])
    assert (pending, attempts) == (1, 1)
