"""``omnigate-webhooks``: deliver every service's events to tenants as webhooks, until SIGTERM.

A service of its own so that slow receivers never slow down accepting
messages, and so that it knows no channel: it consumes the one event
envelope from every service. Run several to send more in parallel (they
share the retry work through the database). Its gRPC server carries the API
the edge calls for endpoints and deliveries, and health: overall SERVING
while the bus connection is up (the API's own name while it answers);
SIGTERM reports NOT_SERVING, then drains.
"""

from __future__ import annotations

from libs import runtime
from libs.api.webhooks.v1 import webhooks_pb2_grpc
from libs.bus import Consumer, QueueSpec
from libs.http import HttpClient
from services.webhooks.config import WebhooksSettings
from services.webhooks.dispatcher import Dispatcher
from services.webhooks.schema import MIGRATIONS
from services.webhooks.sender import WebhookSender
from services.webhooks.servicer import WebhooksServicer
from services.webhooks.ssrf import guarded_resolver, parse_networks

# Every event on the exchange: what is not an envelope is acked and dropped.
QUEUE = "webhooks.events"


async def parts(rt: runtime.Runtime, settings: WebhooksSettings) -> None:
    config = settings.webhooks
    pool = await rt.database(settings.db, MIGRATIONS)
    bus = await rt.bus(settings.bus)
    allowed = parse_networks(config.allowed_private_networks)
    client = HttpClient(limit=config.concurrency, resolve=guarded_resolver(allowed))
    rt.defer(client.close)
    sender = WebhookSender(client, config.timeout_s, allowed)
    dispatcher = await rt.started(Dispatcher(pool, sender, config))
    # Receivers' failures are retried from the database; the bus's own delay
    # queues only retry events whose deliveries could not be stored.
    spec = QueueSpec(QUEUE, events=("#",), retry_delays_s=config.retry_delays_s)
    await rt.started(Consumer(bus, spec, dispatcher.handle, prefetch=config.concurrency))
    servicer = WebhooksServicer(pool, config)
    await rt.grpc(
        settings.grpc,
        lambda s: webhooks_pb2_grpc.add_WebhooksServiceServicer_to_server(servicer, s),
        checks={"bus": bus.connected},
    )


SERVICE = runtime.Service("webhooks", WebhooksSettings.from_env, parts)
main = SERVICE.main

if __name__ == "__main__":
    main()
