"""``omnigate-webhooks``: deliver status webhooks for the sms service's events, until SIGTERM.

A process of its own so that slow receivers never slow down accepting
messages; run several to send more in parallel (they share the retry work
through the database). It serves gRPC health, SERVING while its bus
connection is up; SIGTERM reports NOT_SERVING, then drains.
"""

from __future__ import annotations

import asyncio
import logging

from libs import lifecycle
from libs.bus import Bus, Consumer, QueueSpec
from libs.db import create_pool
from libs.grpc.health import start_health_server
from libs.http import HttpClient
from libs.metrics import MetricsConfig, serve_metrics
from services.edge.app import prepare_database
from services.edge.config import WebhookSettings
from services.edge.webhooks.dispatcher import Dispatcher
from services.edge.webhooks.sender import WebhookSender
from services.edge.webhooks.ssrf import guarded_resolver, parse_networks

log = logging.getLogger("omnigate.edge.webhooks")

QUEUE = "edge.webhooks"


async def run(settings: WebhookSettings, stop: asyncio.Event) -> None:
    config = settings.webhooks
    pool = await create_pool(settings.db)
    await prepare_database(pool, settings.db.schema)
    bus = await Bus.connect(settings.bus, name="webhooks")
    allowed = parse_networks(config.allowed_private_networks)
    client = HttpClient(limit=config.concurrency, resolve=guarded_resolver(allowed))
    dispatcher = Dispatcher(pool, WebhookSender(client, config.timeout_s, allowed), config)
    await dispatcher.start()
    # Receivers' failures are retried from the database; the bus's own delay
    # queues only retry events whose deliveries could not be stored.
    spec = QueueSpec(QUEUE, events=("sms.message.*",), retry_delays_s=config.retry_delays_s)
    consumer = Consumer(bus, spec, dispatcher.handle, prefetch=config.concurrency)
    await consumer.start()
    # Metrics first: whatever sees the process SERVING may scrape it at once.
    serve_metrics(MetricsConfig.from_env())
    health = await start_health_server(settings.health, {"bus": bus.connected})
    log.info("sending webhooks")
    await stop.wait()
    log.info("draining")
    await health.stop(settings.health.grace_s)
    await consumer.stop()
    await dispatcher.stop()
    await client.close()
    await bus.close()
    await pool.close()


def main() -> None:
    settings = WebhookSettings.from_env()
    lifecycle.run_service(
        "webhooks", settings.log_level, settings.telemetry, lambda stop: run(settings, stop)
    )


if __name__ == "__main__":
    main()
