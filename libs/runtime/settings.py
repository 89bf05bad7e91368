"""What every process reads from its environment, declared once.

``ProcessSettings`` (log level, tracing, metrics) is loaded by the runtime
for every service. ``database``, ``bus`` and ``health_server`` are the
shared pieces a service's own settings class includes when it uses them,
so that ``OMNIGATE_DB_*``, ``OMNIGATE_BUS_*`` and the rest mean the same in
every process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from libs import config
from libs.bus.config import BusConfig
from libs.db import DatabaseConfig
from libs.grpc.config import HEALTH_GRACE_S, GrpcClientConfig, GrpcServerConfig
from libs.logs import LogConfig
from libs.metrics import MetricsConfig
from libs.telemetry import TelemetryConfig


@dataclass(frozen=True, slots=True)
class ProcessSettings:
    """``OMNIGATE_LOG_LEVEL``, ``OTEL_TRACES_EXPORTER`` (and ``OMNIGATE_TRACES_FILE``),
    ``OMNIGATE_METRICS_HOST``/``_PORT``: the same for every process."""

    log: LogConfig = field(default_factory=LogConfig)
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)

    @classmethod
    def from_env(cls) -> ProcessSettings:
        return cls(
            config.load(LogConfig, "OMNIGATE_"),
            TelemetryConfig.from_env(),
            config.load(MetricsConfig, "OMNIGATE_METRICS_"),
        )


def database(schema: str) -> DatabaseConfig:
    """``OMNIGATE_DB_*``, for the service that owns ``schema`` (unless one is named)."""
    return config.load(DatabaseConfig, "OMNIGATE_DB_").with_schema(schema)


def bus() -> BusConfig:
    """``OMNIGATE_BUS_*``: the broker and this deployment's name prefix."""
    return config.load(BusConfig, "OMNIGATE_BUS_")


def grpc_server(prefix: str, port: int) -> GrpcServerConfig:
    """A service's gRPC API listener (``<prefix>HOST``, ``<prefix>PORT``, ...)."""
    return config.load(GrpcServerConfig, prefix, defaults={"port": port})


def health_server(prefix: str, port: int) -> GrpcServerConfig:
    """The health-only gRPC listener of a process without an API: nothing to drain."""
    return config.load(GrpcServerConfig, prefix, defaults={"port": port, "grace_s": HEALTH_GRACE_S})


def grpc_client(prefix: str, target: str) -> GrpcClientConfig:
    """Where another service's API is (``<prefix>TARGET``, ``<prefix>TIMEOUT_S``);
    ``target`` is its address on one machine, as ``make run`` starts it."""
    return config.load(GrpcClientConfig, prefix, defaults={"target": target})


# Where the numbers service's API is on one machine (OMNIGATE_NUMBERS_CLIENT_TARGET).
NUMBERS = "127.0.0.1:50054"


def numbers_client() -> GrpcClientConfig:
    """``OMNIGATE_NUMBERS_CLIENT_*``: the numbers service, which every channel routes by."""
    return grpc_client("OMNIGATE_NUMBERS_CLIENT_", NUMBERS)
