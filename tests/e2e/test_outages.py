"""Fault drills: PostgreSQL, RabbitMQ, Redis and the SMSC each go away for 6 s under load.

Every process reaches each server (and the workers the SMSC) through a TCP
proxy of its own. Cutting it is, to the processes, what a restart of the
server is: every connection reset at once, and every new one refused until
it is back. (A real restart would also cut every other user of this
machine's servers; the proxy keeps the drill to this test's platform.)
Messages keep being sent throughout; what was accepted must reach its final
status and its final webhook, and no dead-letter queue may hold anything:
an outage spends no retry. Nothing may be submitted twice, except, when the
SMSC's line is cut, the submits in flight at that moment whose answers it
took with it (SMPP has no idempotency key): at most the bind's window; and
no webhook may be sent twice, except when the broker's line is cut (events
published again: their webhooks may go again, under the same webhook-id).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from deploy.local.platform import QUEUES, Platform, PlatformConfig
from libs.bus import BusConfig
from libs.bus.deadletters import dead_letters
from libs.smpp.config import SmppBindConfig
from tests.e2e.conftest import (
    FINAL_STATUSES,
    TenantCredentials,
    auth,
    create_tenant,
    running_platform,
    smsc_stats,
    through,
)
from tests.helpers.infra import unique_name
from tests.helpers.tcp_proxy import TcpProxy
from tests.helpers.webhooks import WebhookReceiver

pytestmark = pytest.mark.e2e

OUTAGE_S = 6.0
SENDERS = 8
SEND_FOR_S = 10.0


@pytest.fixture(scope="module")
async def proxies() -> AsyncIterator[dict[str, TcpProxy]]:
    async with (
        TcpProxy("127.0.0.1", 5432) as postgres,
        TcpProxy("127.0.0.1", 5672) as rabbitmq,
        TcpProxy("127.0.0.1", 6379) as redis,
    ):
        yield {"postgres": postgres, "rabbitmq": rabbitmq, "redis": redis}


@pytest.fixture(scope="module")
async def drilled(proxies: dict[str, TcpProxy], run_dir: Path) -> AsyncIterator[Platform]:
    """The platform; ``proxies`` gains the SMSC's, in front of the dev SMSC it starts."""
    redis_url = f"redis://127.0.0.1:{proxies['redis'].port}/0"
    config = PlatformConfig.isolated(
        unique_name("outage"),
        receipt_delay_s=0.2,
        webhook_retry_delays_s="0.3,0.6,1.0",
        pg_port=proxies["postgres"].port,
        amqp_url=through(proxies["rabbitmq"]),
        log_dir=str(run_dir / "logs-outages"),
    )
    smsc = proxies["smsc"] = TcpProxy("127.0.0.1", config.smsc_port)
    config.smpp_port = await smsc.start()
    config.extra_env |= {
        # Redis on the request path (rate limits) and the worker's (sender pacing).
        "OMNIGATE_RATELIMIT_REDIS_URL": redis_url,
        "OMNIGATE_SMS_PACING_REDIS_URL": redis_url,
        "OMNIGATE_SMS_WORKER_SENDER_RATE_PER_S": "100000",
        "OMNIGATE_SMS_WORKER_SENDER_BURST": "100000",
    }
    try:
        async with running_platform(config) as running:
            yield running
    finally:
        await smsc.stop()


async def _send_until(
    http: aiohttp.ClientSession, tenant: TenantCredentials, callback: str, stop_at: float
) -> tuple[list[str], int]:
    """(ids accepted, requests refused) of one sender sending until ``stop_at``."""
    accepted, refused, n = [], 0, 0
    while time.monotonic() < stop_at:
        n += 1
        body = {
            "to": "+447700900000",
            "from": tenant.number,
            "body": f"drill {n} {time.monotonic()}",
            "status_callback": callback,
        }
        try:
            async with http.post("/v1/messages", json=body, headers=auth(tenant)) as r:
                if r.status == 201:
                    accepted.append(str((await r.json())["id"]))
                else:
                    # Refused while the database is away (503/504): never accepted.
                    assert r.status in (503, 504), (r.status, await r.text())
                    refused += 1
                    await asyncio.sleep(0.1)
        except (aiohttp.ClientError, TimeoutError):
            refused += 1
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.01)
    return accepted, refused


async def _statuses(
    http: aiohttp.ClientSession, tenant: TenantCredentials, ids: list[str]
) -> dict[str, str]:
    async def one(mid: str) -> tuple[str, str]:
        async with http.get(f"/v1/messages/{mid}", headers=auth(tenant)) as r:
            return mid, str((await r.json())["status"])

    found: dict[str, str] = {}
    for start in range(0, len(ids), 50):
        found |= dict(await asyncio.gather(*(one(m) for m in ids[start : start + 50])))
    return found


@pytest.mark.parametrize("dependency", ["postgres", "rabbitmq", "redis", "smsc"])
async def test_an_outage_under_load_loses_nothing_and_dead_letters_nothing(
    drilled: Platform, proxies: dict[str, TcpProxy], dependency: str
) -> None:
    tenant = await create_tenant(drilled, f"drill-{dependency}")
    receiver = WebhookReceiver(secret=tenant.webhook_secret)
    callback = await receiver.start()
    before = await smsc_stats(drilled)
    try:
        async with aiohttp.ClientSession(
            base_url=drilled.config.edge_url, timeout=aiohttp.ClientTimeout(total=15)
        ) as http:
            stop_at = time.monotonic() + SEND_FOR_S
            senders = [
                asyncio.ensure_future(_send_until(http, tenant, callback, stop_at))
                for _ in range(SENDERS)
            ]
            await asyncio.sleep(2.0)
            proxies[dependency].cut()
            await asyncio.sleep(OUTAGE_S)
            proxies[dependency].restore()
            results = await asyncio.gather(*senders)
            accepted = [m for ids, _ in results for m in ids]
            assert len(accepted) > 100, results
            deadline = time.monotonic() + 90
            while True:
                statuses = await _statuses(http, tenant, accepted)
                pending = [m for m, s in statuses.items() if s not in FINAL_STATUSES]
                hooked = {
                    r.payload["data"]["id"]
                    for r in receiver.received
                    if r.payload["data"].get("status") in FINAL_STATUSES
                }
                unhooked = set(accepted) - hooked
                if not pending and not unhooked:
                    break
                assert time.monotonic() < deadline, (
                    f"{len(pending)} not final (e.g. {pending[:3]}), "
                    f"{len(unhooked)} without a final webhook (e.g. {sorted(unhooked)[:3]})"
                )
                await asyncio.sleep(1.0)
    finally:
        await receiver.stop()
    assert receiver.bad_signatures == 0
    if dependency != "rabbitmq":
        # An outage of PostgreSQL, Redis or the SMSC sends no webhook twice. When the
        # broker's line drops, events whose publish was not confirmed are published
        # again, and their webhooks may go again under the same webhook-id (the
        # at-least-once that Standard Webhooks receivers dedupe by that id).
        assert sum(1 for n in receiver.attempts.values() if n > 1) == 0
    after = await smsc_stats(drilled)
    window = SmppBindConfig(host="smsc", port=2775, system_id="x", password="x").window
    in_flight = window if dependency == "smsc" else 0
    assert after["duplicate_submits"] - before["duplicate_submits"] <= in_flight
    bus = BusConfig(url=drilled.config.amqp_url, prefix=drilled.config.bus_prefix)
    for queue in QUEUES:
        assert await dead_letters(bus, queue) == [], queue
