"""Each service analyses the tables it fills as they grow (libs/db/growth.py).

Autovacuum is off on this machine, so without that the plans each
connection made while the tables were a few pages would scan them for good.
"""

from __future__ import annotations

import asyncio
import secrets

import aiohttp
import asyncpg
import pytest

from deploy.local.platform import Platform
from tests.e2e.conftest import TenantCredentials, auth
from tests.helpers.webhooks import WebhookReceiver

pytestmark = pytest.mark.e2e

# Past the first ANALYZE (1,000 rows added by the process that fills a table).
N = 1_100
FILLED = {
    ("sms", "messages"),  # the sms service
    ("sms", "message_transitions"),  # the sms service and the worker
    ("sms", "message_segments"),  # the worker
    ("webhooks", "webhook_deliveries"),  # the webhooks service
    ("webhooks", "webhook_attempts"),
    ("edge", "idempotency_keys"),  # the edge
}


async def _analysed(dsn: str) -> set[tuple[str, str]]:
    conn = await asyncpg.connect(dsn)
    try:
        # analyze_count: ANALYZE run by a client, not by autovacuum.
        rows = await conn.fetch(
            "SELECT schemaname, relname FROM pg_stat_user_tables WHERE analyze_count > 0"
        )
    finally:
        await conn.close()
    return {(r["schemaname"], r["relname"]) for r in rows}


async def test_the_tables_messages_fill_are_analysed_as_they_grow(
    platform: Platform,
    tenant: TenantCredentials,
    receiver: WebhookReceiver,
    http: aiohttp.ClientSession,
) -> None:
    senders = asyncio.Semaphore(32)

    async def send(i: int) -> None:
        body = {"to": "+447700900000", "from": tenant.number, "body": f"stats {i}",
                "status_callback": receiver.url}  # fmt: skip
        headers = auth(tenant) | {"Idempotency-Key": f"stats-{secrets.token_hex(8)}"}
        async with senders, http.post("/v1/messages", json=body, headers=headers) as r:
            assert r.status == 201

    await asyncio.gather(*(send(i) for i in range(N)))
    deadline = asyncio.get_running_loop().time() + 60
    # Statistics reach pg_stat a moment after the ANALYZE, when its session reports them.
    while missing := FILLED - await _analysed(platform.config.dsn):
        assert asyncio.get_running_loop().time() < deadline, sorted(missing)
        await asyncio.sleep(0.5)
