"""``omnigate-webhooks``: send status webhooks for the sms service's events, until SIGTERM.

A process of its own so that slow receivers never slow down accepting
messages; run several to send more in parallel.
"""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
import asyncpg

from libs import lifecycle
from libs.bus import Bus, Consumer, QueueSpec
from libs.db import create_pool
from libs.logs import setup_logging
from libs.metrics import MetricsConfig, serve_metrics
from libs.telemetry import setup_telemetry
from services.edge import tenants
from services.edge.app import prepare_database
from services.edge.config import WebhookSettings
from services.edge.webhooks.sender import WebhookSender

log = logging.getLogger("omnigate.edge.webhooks")

QUEUE = "edge.webhooks"
# Secrets change rarely; a minute of caching keeps a query off every webhook.
_SECRET_TTL_S = 60.0


class SecretCache:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._cache: dict[str, tuple[float, str]] = {}

    async def __call__(self, tenant_id: str) -> str | None:
        now = time.monotonic()
        hit = self._cache.get(tenant_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self._pool.acquire() as conn:
            found = await tenants.webhook_secrets(conn, [tenant_id])
        secret = found.get(tenant_id)
        if secret is not None:
            self._cache[tenant_id] = (now + _SECRET_TTL_S, secret)
        return secret


async def run(settings: WebhookSettings, stop: asyncio.Event) -> None:
    pool = await create_pool(settings.db)
    await prepare_database(pool, settings.db.schema)
    bus = await Bus.connect(settings.bus, name="webhooks")
    connector = aiohttp.TCPConnector(limit=settings.webhooks.concurrency, limit_per_host=0)
    session = aiohttp.ClientSession(connector=connector)
    sender = WebhookSender(session, SecretCache(pool), settings.webhooks.timeout_s)
    spec = QueueSpec(
        QUEUE, events=("sms.message.*",), retry_delays_s=settings.webhooks.retry_delays_s
    )
    consumer = Consumer(bus, spec, sender.handle, prefetch=settings.webhooks.concurrency)
    await consumer.start()
    serve_metrics(MetricsConfig.from_env())
    log.info("sending webhooks")
    await stop.wait()
    log.info("draining")
    await consumer.stop()
    await session.close()
    await bus.close()
    await pool.close()


def main() -> None:
    settings = WebhookSettings.from_env()
    setup_logging("webhooks", settings.log_level)
    provider = setup_telemetry("webhooks", settings.telemetry)
    lifecycle.run(lambda stop: run(settings, stop))
    if provider is not None:
        provider.shutdown()


if __name__ == "__main__":
    main()
