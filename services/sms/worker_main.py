"""``omnigate-sms-worker``: one SMPP bind, the submit queue consumer, receipts; until SIGTERM.

Run several for more throughput: each holds its own bind, and the queue
spreads commands across them. It serves gRPC health, SERVING while its bus
connection is up and its bind bound. SIGTERM reports NOT_SERVING, stops
taking commands, waits for the submissions in flight to be recorded, then
unbinds.
"""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis

from libs import lifecycle
from libs.bus import BatchConsumer, Bus, OutboxRelay
from libs.db import create_pool
from libs.grpc.health import start_health_server
from libs.metrics import MetricsConfig, serve_metrics
from libs.ratelimit import FallbackLimiter, Pacer, Rate, RedisLimiter
from libs.smpp.client import SmppClient
from services.sms.config import WorkerSettings
from services.sms.events import SUBMIT_QUEUE_SPEC, RelayOutbox
from services.sms.main import prepare_database
from services.sms.worker import SmsWorker, submit_weight

log = logging.getLogger("omnigate.sms.worker")


async def run(settings: WorkerSettings, stop: asyncio.Event) -> None:
    pool = await create_pool(settings.db)
    await prepare_database(pool, settings.db.schema)
    bus = await Bus.connect(settings.bus, name="sms-worker")
    relay = OutboxRelay(pool, bus.publisher, name="sms-worker")
    await relay.start()
    outbox = RelayOutbox(relay)
    # The client calls the worker back for receipts, and only once started.
    smpp = SmppClient(settings.smpp, lambda pdu: worker.on_deliver(pdu))
    redis, pacer = _sender_pacing(settings)
    worker = SmsWorker(pool, outbox, smpp, pacer, settings.worker)
    await smpp.start()
    consumer = BatchConsumer(
        bus,
        SUBMIT_QUEUE_SPEC,
        worker.handle_submits,
        max_batch=settings.worker.batch_size,
        max_wait_s=settings.worker.batch_delay_s,
        max_concurrency=settings.worker.batch_concurrency,
        weight=submit_weight,
        stop_timeout_s=settings.worker.drain_s,
    )
    await consumer.start()
    # Metrics first: whatever sees the process SERVING may scrape it at once.
    serve_metrics(MetricsConfig.from_env())
    health = await start_health_server(
        settings.health,
        {"bus": bus.connected, "smpp": lambda: smpp.bound},
    )
    log.info("sms worker bound to %s:%d", settings.smpp.host, settings.smpp.port)
    await stop.wait()
    log.info("draining")
    await health.stop(settings.health.grace_s)
    await consumer.stop()
    await smpp.close()
    await worker.close()
    await relay.stop()
    await bus.close()
    await pool.close()
    if redis is not None:
        await redis.aclose()


def _sender_pacing(settings: WorkerSettings) -> tuple[Redis | None, Pacer | None]:
    """The per-sender pacer shared through Redis, or none when no sender rate is set."""
    if settings.worker.sender_rate_per_s <= 0:
        return None, None
    pacing = settings.pacing
    redis = Redis.from_url(pacing.redis_url, socket_connect_timeout=pacing.redis_timeout_s)
    limiter = FallbackLimiter(
        RedisLimiter(redis, pacing.key_prefix),
        name="sms-sender",
        timeout_s=pacing.redis_timeout_s,
        retry_every_s=pacing.redis_retry_every_s,
    )
    rate = Rate(settings.worker.sender_rate_per_s, settings.worker.sender_burst)
    log.info("pacing each sender to %g messages/s", rate.per_s)
    return redis, Pacer(limiter, rate, "sms:sender")


def main() -> None:
    settings = WorkerSettings.from_env()
    lifecycle.run_service(
        "sms-worker", settings.log_level, settings.telemetry, lambda stop: run(settings, stop)
    )


if __name__ == "__main__":
    main()
