"""``omnigate-webhooks``: deliver status webhooks for the sms service's events, until SIGTERM.

A process of its own so that slow receivers never slow down accepting
messages; run several to send more in parallel (they share the retry work
through the database). It serves gRPC health, SERVING while its bus
connection is up; SIGTERM reports NOT_SERVING, then drains.
"""

from __future__ import annotations

from libs import runtime
from libs.bus import Consumer, QueueSpec
from libs.http import HttpClient
from services.edge.config import WebhookSettings
from services.edge.schema import MIGRATIONS
from services.edge.webhooks.dispatcher import Dispatcher
from services.edge.webhooks.sender import WebhookSender
from services.edge.webhooks.ssrf import guarded_resolver, parse_networks

QUEUE = "edge.webhooks"


async def parts(rt: runtime.Runtime, settings: WebhookSettings) -> None:
    config = settings.webhooks
    pool = await rt.database(settings.db, MIGRATIONS)
    bus = await rt.bus(settings.bus)
    allowed = parse_networks(config.allowed_private_networks)
    client = HttpClient(limit=config.concurrency, resolve=guarded_resolver(allowed))
    rt.defer(client.close)
    dispatcher = await rt.started(
        Dispatcher(pool, WebhookSender(client, config.timeout_s, allowed), config)
    )
    # Receivers' failures are retried from the database; the bus's own delay
    # queues only retry events whose deliveries could not be stored.
    spec = QueueSpec(QUEUE, events=("sms.message.*",), retry_delays_s=config.retry_delays_s)
    await rt.started(Consumer(bus, spec, dispatcher.handle, prefetch=config.concurrency))
    await rt.grpc(settings.health, checks={"bus": bus.connected})


SERVICE = runtime.Service("webhooks", WebhookSettings.from_env, parts)
main = SERVICE.main

if __name__ == "__main__":
    main()
