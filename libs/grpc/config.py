from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GrpcServerConfig:
    """A service's gRPC listener. Load with its service prefix, e.g. ``OMNIGATE_SMS_GRPC_``."""

    host: str = "127.0.0.1"
    port: int = 50051
    # How long SIGTERM waits for in-flight calls before cancelling them.
    grace_s: float = 10.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0..65535, got {self.port}")
        if self.grace_s < 0:
            raise ValueError("grace_s must not be negative")


# The grace of a health-only server (libs/grpc/health.py): it has no work in
# flight to drain (a Check answers at once), so its grace only bounds how long
# open Watch streams delay the process's exit.
HEALTH_GRACE_S = 1.0


@dataclass(frozen=True, slots=True)
class GrpcClientConfig:
    """How a caller reaches a service. ``timeout_s`` is the deadline of every call."""

    target: str = "127.0.0.1:50051"
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if not self.target:
            raise ValueError("target must be host:port")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
