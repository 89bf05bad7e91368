from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GrpcServerConfig:
    """A service's gRPC listener. Load with its service prefix, e.g. ``OMNIGATE_SMS_GRPC_``."""

    host: str = "127.0.0.1"
    port: int = 50051
    # How long SIGTERM waits for in-flight calls before cancelling them.
    grace_s: float = 10.0
    # Each client connection is closed (GOAWAY, calls in flight finish) after
    # about this long, so clients resolve the service's name again and spread
    # their calls over replicas added since (libs/grpc/client.py).
    max_connection_age_s: float = 60.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0..65535, got {self.port}")
        if self.grace_s < 0:
            raise ValueError("grace_s must not be negative")
        if self.max_connection_age_s <= 0:
            raise ValueError("max_connection_age_s must be positive")


# The grace of a health-only server (libs/grpc/health.py): it has no work in
# flight to drain (a Check answers at once), so its grace only bounds how long
# open Watch streams delay the process's exit.
HEALTH_GRACE_S = 1.0


@dataclass(frozen=True, slots=True)
class GrpcClientConfig:
    """How a caller reaches a service. ``timeout_s`` is the deadline of every call.

    ``target`` is a gRPC name: ``host:port``, or ``dns:///name:port`` for a name
    with several addresses (a headless Kubernetes Service: one per replica),
    over which the channel spreads its calls.
    """

    target: str = "127.0.0.1:50051"
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if not self.target:
            raise ValueError("target must be host:port")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
