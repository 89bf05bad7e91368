"""Settings of the numbers service (``omnigate-numbers``)."""

from __future__ import annotations

from dataclasses import dataclass

from libs import runtime
from libs.bus.config import BusConfig
from libs.db import DatabaseConfig
from libs.grpc.config import GrpcServerConfig
from services.numbers.schema import SCHEMA


@dataclass(frozen=True, slots=True)
class NumbersSettings:
    """The process: its API and health on ``grpc`` (``OMNIGATE_NUMBERS_GRPC_``) and the bus
    its number.* events go out on."""

    db: DatabaseConfig
    bus: BusConfig
    grpc: GrpcServerConfig

    @classmethod
    def from_env(cls) -> NumbersSettings:
        return cls(
            db=runtime.database(SCHEMA),
            bus=runtime.bus(),
            # After the sms API's 50051, the sms worker's 50052 and webhooks' 50053.
            grpc=runtime.grpc_server("OMNIGATE_NUMBERS_GRPC_", port=50054),
        )
