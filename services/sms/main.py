"""``omnigate-sms``: the SmsService gRPC server and the outbox relay, until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import asyncpg

from libs import lifecycle
from libs.api.sms.v1 import sms_pb2, sms_pb2_grpc
from libs.bus import Bus, OutboxRelay, declare_queue
from libs.bus.outbox import OUTBOX_MIGRATIONS
from libs.db import MigrationSource, create_pool, migrate
from libs.grpc.server import start_server
from libs.metrics import MetricsConfig, serve_metrics
from services.sms.config import ServerSettings
from services.sms.events import SUBMIT_QUEUE_SPEC, RelayOutbox
from services.sms.servicer import SmsServicer

log = logging.getLogger("omnigate.sms")

MIGRATIONS = MigrationSource("sms", Path(__file__).parent / "migrations")
SERVICE_NAME = sms_pb2.DESCRIPTOR.services_by_name["SmsService"].full_name


async def prepare_database(pool: asyncpg.Pool, schema: str) -> None:
    await migrate(pool, schema, [OUTBOX_MIGRATIONS, MIGRATIONS])


async def serve(settings: ServerSettings, stop: asyncio.Event) -> None:
    pool = await create_pool(settings.db)
    await prepare_database(pool, settings.db.schema)
    bus = await Bus.connect(settings.bus, name="sms")
    # Declared here too, so commands are kept even before any worker starts.
    channel = await bus.channel()
    await declare_queue(channel, settings.bus, SUBMIT_QUEUE_SPEC)
    await channel.close()
    relay = OutboxRelay(pool, bus.publisher, name="sms")
    await relay.start()
    servicer = SmsServicer(pool, RelayOutbox(relay))
    # Metrics first: whatever sees the process SERVING may scrape it at once.
    serve_metrics(MetricsConfig.from_env())
    server = await start_server(
        settings.grpc,
        lambda s: sms_pb2_grpc.add_SmsServiceServicer_to_server(servicer, s),
        [SERVICE_NAME],
    )
    log.info("sms gRPC listening on %s:%d", settings.grpc.host, server.port)
    await stop.wait()
    log.info("draining")
    await server.stop(settings.grpc.grace_s)
    await servicer.close()
    await relay.stop()
    await bus.close()
    await pool.close()


def main() -> None:
    settings = ServerSettings.from_env()
    lifecycle.run_service(
        "sms", settings.log_level, settings.telemetry, lambda stop: serve(settings, stop)
    )


if __name__ == "__main__":
    main()
