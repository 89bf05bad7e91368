"""``omnigate-sms-worker``: one SMPP bind, the submit queue consumer, receipts; until SIGTERM.

Run several for more throughput: each holds its own bind, and the queue
spreads commands across them. SIGTERM stops taking commands, waits for the
submissions in flight to be recorded, then unbinds.
"""

from __future__ import annotations

import asyncio
import logging

from libs import lifecycle
from libs.bus import BatchConsumer, Bus, OutboxRelay
from libs.db import create_pool
from libs.logs import setup_logging
from libs.metrics import MetricsConfig, serve_metrics
from libs.smpp.client import SmppClient
from libs.telemetry import setup_telemetry
from services.sms.config import WorkerSettings
from services.sms.events import SUBMIT_QUEUE_SPEC, RelayOutbox
from services.sms.main import prepare_database
from services.sms.worker import SmsWorker

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
    worker = SmsWorker(pool, outbox, smpp)
    await smpp.start()
    consumer = BatchConsumer(
        bus,
        SUBMIT_QUEUE_SPEC,
        worker.handle_submits,
        max_batch=settings.worker.batch_size,
        max_wait_s=settings.worker.batch_delay_s,
        stop_timeout_s=settings.worker.drain_s,
    )
    await consumer.start()
    serve_metrics(MetricsConfig.from_env())
    log.info("sms worker bound to %s:%d", settings.smpp.host, settings.smpp.port)
    await stop.wait()
    log.info("draining")
    await consumer.stop()
    await smpp.close()
    await worker.close()
    await relay.stop()
    await bus.close()
    await pool.close()


def main() -> None:
    settings = WorkerSettings.from_env()
    setup_logging("sms-worker", settings.log_level)
    provider = setup_telemetry("sms-worker", settings.telemetry)
    lifecycle.run(lambda stop: run(settings, stop))
    if provider is not None:
        provider.shutdown()


if __name__ == "__main__":
    main()
