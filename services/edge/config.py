"""Settings of the edge processes (HTTP API and webhook sender)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from libs import config, runtime
from libs.bus.config import BusConfig
from libs.db import DatabaseConfig
from libs.grpc.config import GrpcClientConfig, GrpcServerConfig
from services.edge.ratelimit import RateLimitConfig
from services.edge.schema import SCHEMA


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """The public listener. Load with ``OMNIGATE_EDGE_``."""

    host: str = "127.0.0.1"
    port: int = 8080
    # Largest request body accepted; a 1,600-character SMS is far below it.
    max_body_bytes: int = 64 * 1024
    # How long a verified API key is trusted without looking it up again; a
    # revocation or suspension empties every replica's cache at once anyway.
    auth_cache_ttl_s: float = 60.0
    # Bearer token of the operator API (/admin/v1); empty: the operator API is off.
    admin_token: str = ""
    shutdown_grace_s: float = 10.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0..65535, got {self.port}")
        if self.max_body_bytes < 1024:
            raise ValueError("max_body_bytes must be at least 1024")
        if self.auth_cache_ttl_s < 0 or self.shutdown_grace_s < 0:
            raise ValueError("auth_cache_ttl_s and shutdown_grace_s must not be negative")


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """The webhook sender. Load with ``OMNIGATE_WEBHOOKS_``."""

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
class EdgeSettings:
    http: HttpConfig
    db: DatabaseConfig
    sms: GrpcClientConfig
    ratelimit: RateLimitConfig
    webhooks: WebhookConfig

    @classmethod
    def from_env(cls) -> EdgeSettings:
        return cls(
            http=config.load(HttpConfig, "OMNIGATE_EDGE_"),
            db=runtime.database(SCHEMA),
            sms=config.load(GrpcClientConfig, "OMNIGATE_SMS_CLIENT_"),
            ratelimit=config.load(RateLimitConfig, "OMNIGATE_RATELIMIT_"),
            webhooks=config.load(WebhookConfig, "OMNIGATE_WEBHOOKS_"),
        )


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """The webhook sender (``omnigate-webhooks``).

    ``health`` is its health-only gRPC server (``OMNIGATE_WEBHOOKS_HEALTH_``):
    SERVING while the bus connection is up.
    """

    webhooks: WebhookConfig
    db: DatabaseConfig
    bus: BusConfig
    health: GrpcServerConfig

    @classmethod
    def from_env(cls) -> WebhookSettings:
        return cls(
            webhooks=config.load(WebhookConfig, "OMNIGATE_WEBHOOKS_"),
            db=runtime.database(SCHEMA),
            bus=runtime.bus(),
            # Next to the sms API's 50051 and the sms worker's 50052 on one machine.
            health=runtime.health_server("OMNIGATE_WEBHOOKS_HEALTH_", port=50053),
        )
