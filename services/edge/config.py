"""Settings of the edge (the public HTTP API)."""

from __future__ import annotations

from dataclasses import dataclass

from libs import config, runtime
from libs.db import DatabaseConfig
from libs.grpc.config import GrpcClientConfig
from services.edge.ratelimit import RateLimitConfig
from services.edge.schema import SCHEMA

# Where the webhooks service's API is on one machine (OMNIGATE_WEBHOOKS_CLIENT_TARGET).
WEBHOOKS = "127.0.0.1:50053"


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
class EdgeSettings:
    http: HttpConfig
    db: DatabaseConfig
    sms: GrpcClientConfig
    ratelimit: RateLimitConfig
    webhooks: GrpcClientConfig
    numbers: GrpcClientConfig

    @classmethod
    def from_env(cls) -> EdgeSettings:
        return cls(
            http=config.load(HttpConfig, "OMNIGATE_EDGE_"),
            db=runtime.database(SCHEMA),
            sms=config.load(GrpcClientConfig, "OMNIGATE_SMS_CLIENT_"),
            ratelimit=config.load(RateLimitConfig, "OMNIGATE_RATELIMIT_"),
            webhooks=webhooks_client(),
            numbers=runtime.numbers_client(),
        )


def webhooks_client() -> GrpcClientConfig:
    """``OMNIGATE_WEBHOOKS_CLIENT_*``: where the webhooks service's API is."""
    return config.load(GrpcClientConfig, "OMNIGATE_WEBHOOKS_CLIENT_", defaults={"target": WEBHOOKS})
