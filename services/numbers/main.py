"""``omnigate-numbers``: the numbers tenants own, and who owns an address, until SIGTERM.

A service of its own because every channel routes by it: SMS today, voice
next. It publishes number.* events through its outbox (the sms service
keeps its copy from them) and answers its gRPC API, with health, on
50054.
"""

from __future__ import annotations

from libs import runtime
from libs.api.numbers.v1 import numbers_pb2_grpc
from services.numbers.config import NumbersSettings
from services.numbers.schema import MIGRATIONS
from services.numbers.servicer import NumbersServicer


async def parts(rt: runtime.Runtime, settings: NumbersSettings) -> None:
    pool = await rt.database(settings.db, MIGRATIONS)
    bus = await rt.bus(settings.bus)
    outbox = await rt.outbox(pool, bus)
    servicer = NumbersServicer(pool, outbox)
    await rt.grpc(
        settings.grpc, lambda s: numbers_pb2_grpc.add_NumbersServiceServicer_to_server(servicer, s)
    )


SERVICE = runtime.Service("numbers", NumbersSettings.from_env, parts)
main = SERVICE.main

if __name__ == "__main__":
    main()
