"""Prometheus metrics endpoint of a process (``OMNIGATE_METRICS_PORT``; 0 = off).

It says nothing about health: it answers as well after a lost broker
connection or SMPP bind. Probes ask gRPC health (``libs.grpc.health`` for
processes without a gRPC API) or the edge's ``/healthz``.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import start_http_server

from libs import config


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    host: str = "127.0.0.1"
    port: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0..65535, got {self.port}")

    @classmethod
    def from_env(cls) -> MetricsConfig:
        return config.load(cls, "OMNIGATE_METRICS_")


def serve_metrics(metrics: MetricsConfig) -> None:
    if metrics.port:
        start_http_server(metrics.port, metrics.host)
