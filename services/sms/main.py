"""``omnigate-sms``: the SmsService gRPC server and its outbox relay, until SIGTERM.

It also keeps its copy of who owns which number from the numbers service's
events (``services.sms.owners``): a tenant sends only from its own.
"""

from __future__ import annotations

from libs import runtime
from libs.api.numbers.v1 import numbers_pb2_grpc
from libs.api.sms.v1 import sms_pb2_grpc
from libs.bus import Consumer
from libs.grpc.client import open_channel
from services.sms import owners as owners_copy
from services.sms.config import ServerSettings
from services.sms.events import SUBMIT_QUEUE_SPEC
from services.sms.schema import MIGRATIONS
from services.sms.servicer import SmsServicer


async def parts(rt: runtime.Runtime, settings: ServerSettings) -> None:
    pool = await rt.database(settings.db, MIGRATIONS)
    # The command queue is declared here too, so commands are kept before any worker starts.
    bus = await rt.bus(settings.bus, declare=[SUBMIT_QUEUE_SPEC])
    outbox = await rt.outbox(pool, bus)
    numbers = open_channel(settings.numbers)
    rt.defer(numbers.close)
    stub = numbers_pb2_grpc.NumbersServiceStub(numbers)
    copy = await rt.started(owners_copy.Owners(pool, settings.db.dsn, stub))
    servicer = SmsServicer(pool, outbox, copy)
    rt.defer(servicer.close)
    await rt.started(
        Consumer(
            bus, owners_copy.QUEUE_SPEC, copy.on_event, stop_timeout_s=owners_copy.STOP_TIMEOUT_S
        )
    )
    await rt.grpc(
        settings.grpc, lambda s: sms_pb2_grpc.add_SmsServiceServicer_to_server(servicer, s)
    )


SERVICE = runtime.Service("sms", ServerSettings.from_env, parts)
main = SERVICE.main

if __name__ == "__main__":
    main()
