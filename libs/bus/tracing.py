"""Trace context on the bus: W3C headers in, PRODUCER/CONSUMER spans with messaging attributes.

The tracer is injected (tests pass one from their own ``TracerProvider``) or
taken lazily from the global API, so whatever provider the process installs
at start-up is used. With none injected or installed there is no tracer:
no span is made and no header parsed (``libs.telemetry.tracing_on``), and a
published message keeps the trace headers it was given.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context

from libs.telemetry import tracing_on

INSTRUMENTATION = "omnigate.bus"
_TRACE_HEADERS = ("traceparent", "tracestate")


def resolve_tracer(tracer: trace.Tracer | None) -> trace.Tracer | None:
    """The injected tracer, else the global one if this process traces, else None."""
    if tracer is not None:
        return tracer
    return trace.get_tracer(INSTRUMENTATION) if tracing_on() else None


def capture(headers: MutableMapping[str, str]) -> None:
    """Write the current trace context into ``headers`` (nothing when no span is active)."""
    propagate.inject(headers)


def stored_context(headers: Mapping[str, Any]) -> Context | None:
    """The context carried by ``headers``, or None (meaning: the current one) if there is none."""
    if "traceparent" not in headers:
        return None
    carrier = {
        k: v.decode() if isinstance(v, bytes) else str(v)
        for k, v in headers.items()
        if isinstance(v, str | bytes)
    }
    return propagate.extract(carrier)


def without_trace_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in headers.items() if k not in _TRACE_HEADERS}


def publish_attributes(exchange: str, routing_key: str, message_id: str) -> dict[str, Any]:
    # RabbitMQ semantic conventions: the destination is the exchange, the
    # routing key has its own attribute. ``publish`` is the operation name;
    # its type in current conventions is ``send`` (``publish`` is deprecated).
    return {
        "messaging.system": "rabbitmq",
        "messaging.destination.name": exchange or "amq.default",
        "messaging.rabbitmq.destination.routing_key": routing_key,
        "messaging.message.id": message_id,
        "messaging.operation.name": "publish",
        "messaging.operation.type": "send",
    }


def process_attributes(queue: str, routing_key: str, message_id: str | None) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "messaging.system": "rabbitmq",
        "messaging.destination.name": queue,
        "messaging.destination.subscription.name": queue,
        "messaging.rabbitmq.destination.routing_key": routing_key,
        "messaging.operation.name": "process",
        "messaging.operation.type": "process",
    }
    if message_id is not None:
        attrs["messaging.message.id"] = message_id
    return attrs
