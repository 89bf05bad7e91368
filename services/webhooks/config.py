"""Settings of the webhooks service (``omnigate-webhooks``), one frozen object per concern."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from libs import config, runtime
from libs.bus.config import BusConfig
from libs.db import DatabaseConfig
from libs.grpc.config import GrpcServerConfig
from services.webhooks.schema import SCHEMA


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """How webhooks are sent and checked. Load with ``OMNIGATE_WEBHOOKS_``."""

    timeout_s: float = 15.0
    concurrency: int = 256
    # The backoff ladder after the first attempt, as ARCHITECTURE.md 4 gives it.
    retry_delays_s: tuple[float, ...] = (
        5.0,
        300.0,
        1800.0,
        7200.0,
        18000.0,
        36000.0,
        50400.0,
        72000.0,
        86400.0,
    )
    # CIDRs a webhook URL may resolve to although they are not public (the
    # SSRF guard refuses loopback, private, link-local... addresses otherwise).
    allowed_private_networks: tuple[str, ...] = ()
    # How often the retry poller looks for due deliveries when nothing woke it.
    poll_interval_s: float = 1.0

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.concurrency < 1:
            raise ValueError("timeout_s must be positive and concurrency >= 1")
        if self.poll_interval_s <= 0:
            raise ValueError("poll_interval_s must be positive")
        if any(d < 0 for d in self.retry_delays_s):
            raise ValueError("retry_delays_s must not be negative")
        for cidr in self.allowed_private_networks:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ValueError(f"allowed_private_networks: {exc}") from exc


@dataclass(frozen=True, slots=True)
class WebhooksSettings:
    """The process: its API and health on ``grpc`` (``OMNIGATE_WEBHOOKS_GRPC_``), SERVING
    overall while its bus connection is up, and its sender."""

    db: DatabaseConfig
    bus: BusConfig
    grpc: GrpcServerConfig
    webhooks: WebhookConfig

    @classmethod
    def from_env(cls) -> WebhooksSettings:
        return cls(
            db=runtime.database(SCHEMA),
            bus=runtime.bus(),
            # Next to the sms API's 50051 and the sms worker's 50052 on one machine.
            grpc=runtime.grpc_server("OMNIGATE_WEBHOOKS_GRPC_", port=50053),
            webhooks=config.load(WebhookConfig, "OMNIGATE_WEBHOOKS_"),
        )
