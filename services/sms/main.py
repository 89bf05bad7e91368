"""``omnigate-sms``: the SmsService gRPC server and its outbox relay, until SIGTERM."""

from __future__ import annotations

from libs import runtime
from libs.api.sms.v1 import sms_pb2_grpc
from services.sms.config import ServerSettings
from services.sms.events import SUBMIT_QUEUE_SPEC
from services.sms.schema import MIGRATIONS
from services.sms.servicer import SmsServicer


async def parts(rt: runtime.Runtime, settings: ServerSettings) -> None:
    pool = await rt.database(settings.db, MIGRATIONS)
    # The command queue is declared here too, so commands are kept before any worker starts.
    bus = await rt.bus(settings.bus, declare=[SUBMIT_QUEUE_SPEC])
    outbox = await rt.outbox(pool, bus)
    servicer = SmsServicer(pool, outbox)
    rt.defer(servicer.close)
    await rt.grpc(
        settings.grpc, lambda s: sms_pb2_grpc.add_SmsServiceServicer_to_server(servicer, s)
    )


SERVICE = runtime.Service("sms", ServerSettings.from_env, parts)
main = SERVICE.main

if __name__ == "__main__":
    main()
