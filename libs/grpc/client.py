"""A pooled, traced channel to another service; one per process and target."""

from __future__ import annotations

import grpc

from libs.grpc.config import GrpcClientConfig
from libs.grpc.interceptors import ClientInterceptor


def open_channel(config: GrpcClientConfig) -> grpc.aio.Channel:
    """A long-lived channel: HTTP/2 multiplexes every call over it, so never one per request."""
    return grpc.aio.insecure_channel(
        config.target,
        interceptors=[ClientInterceptor(config.timeout_s)],
        options=[
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.enable_retries", 1),
        ],
    )
