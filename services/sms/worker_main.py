"""``omnigate-sms-worker``: one SMPP bind, the submit queue consumer, receipts and inbound SMS,
until SIGTERM.

Run several for more throughput: each holds its own bind, and the queue
spreads commands across them. It serves gRPC health, SERVING while its bus
connection is up and its bind bound. SIGTERM reports NOT_SERVING, stops
taking commands, waits for the submissions in flight to be recorded, then
unbinds.
"""

from __future__ import annotations

from libs import runtime
from libs.api.numbers.v1 import numbers_pb2_grpc
from libs.bus import BatchConsumer
from libs.grpc.client import open_channel
from libs.smpp.client import SmppClient
from services.sms.config import WorkerSettings
from services.sms.events import SUBMIT_QUEUE_SPEC
from services.sms.inbound import Inbound
from services.sms.owners import Owners
from services.sms.pacing import sender_pacer
from services.sms.schema import MIGRATIONS
from services.sms.worker import SmsWorker, submit_weight


async def parts(rt: runtime.Runtime, settings: WorkerSettings) -> None:
    pool = await rt.database(settings.db, MIGRATIONS)
    bus = await rt.bus(settings.bus)
    outbox = await rt.outbox(pool, bus)
    pacer = await sender_pacer(rt, settings)
    numbers = open_channel(settings.numbers)
    rt.defer(numbers.close)
    owners = await rt.started(
        Owners(pool, settings.db.dsn, numbers_pb2_grpc.NumbersServiceStub(numbers))
    )
    # The client calls the worker back for receipts and inbound SMS, once started.
    smpp = SmppClient(settings.smpp, lambda pdu: worker.on_deliver(pdu))
    inbound = Inbound(pool, outbox, owners)
    worker = SmsWorker(pool, outbox, smpp, pacer, settings.worker, inbound)
    rt.defer(worker.close)
    await smpp.start()
    rt.defer(smpp.close)
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
    await rt.started(consumer)
    await rt.grpc(settings.health, checks={"bus": bus.connected, "smpp": lambda: smpp.bound})


SERVICE = runtime.Service("sms-worker", WorkerSettings.from_env, parts)
main = SERVICE.main

if __name__ == "__main__":
    main()
