"""Settings of the sms service processes, one frozen object per concern."""

from __future__ import annotations

from dataclasses import dataclass, field

from libs import config, runtime
from libs.bus.config import BusConfig
from libs.db import DatabaseConfig
from libs.grpc.config import GrpcClientConfig, GrpcServerConfig
from libs.smpp.config import SmppBindConfig
from services.sms.schema import SCHEMA


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """How many messages one worker takes at once, and how long it gathers them."""

    # Messages per batch (a command is never split: one heavier than this is a batch alone).
    batch_size: int = 100
    # How long a batch of commands, and one of receipts, gathers. Waiting is
    # cheap here: it adds to the time to delivery (seconds, the carrier's), not
    # to the tenant's request, while every batch costs a claim, a transaction,
    # a relay round and its confirms whatever its size. make bench at 500/s:
    # 5 and 3 ms -> 30 and 20 ms took the worker from 2.5 to 0.7 statements per
    # message and accept p99 from 29-30 to 19-20 ms (less CPU for the request
    # path to wait behind); 50 ms made bursts that cost accept p99 again.
    batch_delay_s: float = 0.03
    receipt_batch_delay_s: float = 0.02
    # Batches submitting at once; while all are busy the next one grows. More
    # than one or two because a batch whose sender is paced waits its turn.
    batch_concurrency: int = 4
    # How long SIGTERM waits for in-flight submissions to be recorded.
    drain_s: float = 15.0
    # Messages per second from one sender number, across all workers (carriers
    # require it); what exceeds it waits its turn. 0: unlimited, and no Redis call.
    sender_rate_per_s: float = 0.0
    sender_burst: int = 1
    # How long one attempt holds a message it submits. Another copy of its
    # command waits that long before taking over (the holder may have died):
    # it bounds recovery after a crash, and must exceed a batch's submit time.
    claim_lease_s: float = 30.0

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.batch_concurrency < 1:
            raise ValueError("batch_size and batch_concurrency must be >= 1")
        if self.batch_delay_s < 0 or self.receipt_batch_delay_s < 0 or self.drain_s < 0:
            raise ValueError("batch delays and drain_s must not be negative")
        if self.claim_lease_s <= 0:
            raise ValueError("claim_lease_s must be positive")
        if self.sender_rate_per_s < 0 or self.sender_burst < 1:
            raise ValueError("sender_rate_per_s must be >= 0 and sender_burst >= 1")


@dataclass(frozen=True, slots=True)
class PacingConfig:
    """Where the per-sender pacing is shared. Load with ``OMNIGATE_SMS_PACING_``.

    Each Redis call is bounded by ``redis_timeout_s``; past it the worker paces
    alone (per process) and tries Redis again every ``redis_retry_every_s``.
    """

    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "omnigate"
    redis_timeout_s: float = 0.05
    redis_retry_every_s: float = 5.0

    def __post_init__(self) -> None:
        if not self.redis_url or not self.key_prefix:
            raise ValueError("redis_url and key_prefix must not be empty")
        if not self.redis_timeout_s > 0 or not self.redis_retry_every_s > 0:
            raise ValueError("redis_timeout_s and redis_retry_every_s must be > 0")


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """The gRPC server process (``omnigate-sms``): API calls and the outbox relay; it asks
    the numbers service (``numbers``) who owns an address it does not know yet."""

    db: DatabaseConfig
    bus: BusConfig
    grpc: GrpcServerConfig
    numbers: GrpcClientConfig

    @classmethod
    def from_env(cls) -> ServerSettings:
        return cls(
            db=runtime.database(SCHEMA),
            bus=runtime.bus(),
            grpc=runtime.grpc_server("OMNIGATE_SMS_GRPC_", port=50051),
            numbers=runtime.numbers_client(),
        )


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """The worker process (``omnigate-sms-worker``): one SMPP bind and its queue consumer.

    ``health`` is its health-only gRPC server (``OMNIGATE_SMS_WORKER_HEALTH_``):
    SERVING while the bus connection is up and the SMPP bind bound.
    """

    db: DatabaseConfig
    bus: BusConfig
    smpp: SmppBindConfig
    worker: WorkerConfig
    health: GrpcServerConfig
    # Asked who owns an inbound SMS's number when the copy does not know it.
    numbers: GrpcClientConfig = field(default_factory=runtime.numbers_client)
    pacing: PacingConfig = field(default_factory=PacingConfig)

    @classmethod
    def from_env(cls) -> WorkerSettings:
        return cls(
            db=runtime.database(SCHEMA),
            bus=runtime.bus(),
            smpp=config.load(SmppBindConfig, "OMNIGATE_SMPP_"),
            worker=config.load(WorkerConfig, "OMNIGATE_SMS_WORKER_"),
            # Next to the sms API's 50051 and the webhooks service's 50053 on one machine.
            health=runtime.health_server("OMNIGATE_SMS_WORKER_HEALTH_", port=50052),
            pacing=config.load(PacingConfig, "OMNIGATE_SMS_PACING_"),
            numbers=runtime.numbers_client(),
        )
