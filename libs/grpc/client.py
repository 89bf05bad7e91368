"""A pooled, traced channel to another service; one per process and target.

The channel balances round-robin over every address its target resolves to.
gRPC's default (pick_first) sends every call over one connection to one
address, so behind a Kubernetes Service each edge would load one sms replica
and replicas added later would get nothing. With a headless Service the name
resolves to every ready replica; servers close each connection after
``GrpcServerConfig.max_connection_age_s``, and the reconnect resolves the
name again, so new replicas get their share within about a minute.
"""

from __future__ import annotations

import grpc
import orjson

from libs.grpc.config import GrpcClientConfig
from libs.grpc.interceptors import ClientInterceptor

_SERVICE_CONFIG = orjson.dumps({"loadBalancingConfig": [{"round_robin": {}}]}).decode()


def open_channel(config: GrpcClientConfig) -> grpc.aio.Channel:
    """A long-lived channel: HTTP/2 multiplexes every call over it, so never one per request."""
    return grpc.aio.insecure_channel(
        config.target,
        interceptors=[ClientInterceptor(config.timeout_s)],
        options=[
            ("grpc.keepalive_time_ms", 30_000),
            # A restarted service is reached again within a fraction of a
            # second, and never more than 5 s after it is back (gRPC's
            # defaults: 1 s, growing to 120 s while it is away).
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 5_000),
            ("grpc.enable_retries", 1),
            ("grpc.service_config", _SERVICE_CONFIG),
        ],
    )
