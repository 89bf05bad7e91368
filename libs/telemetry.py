"""OpenTelemetry set-up, chosen by the standard ``OTEL_*`` variables.

``OTEL_TRACES_EXPORTER``: ``none`` (default: no SDK provider is installed, so
every span is the API's no-op and tracing costs nothing), ``otlp`` (the OTLP
gRPC exporter, configured by the usual ``OTEL_EXPORTER_OTLP_*`` variables),
``console``, or ``jsonl`` (Omnigate's own: one JSON object per finished span
appended to ``OMNIGATE_TRACES_FILE``; what tests and developers without a
collector read).

Off must cost nothing, and the API's no-op spans are not free (~9 us each,
a dozen per message across the hot path, plus parsing and writing W3C
headers): hot paths ask ``tracing_on()`` and skip spans and propagation
altogether when it is False. A process with tracing off therefore also
ends the traces that pass through it; switch tracing on everywhere or
nowhere.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import IO, Any

import orjson
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)

from libs import config as _config

_EXPORTERS = ("none", "otlp", "console", "jsonl")

# Set once a provider that records spans is installed by ``setup_telemetry``.
_recording = False

# What start_span gives when tracing is off: a span on which every call does nothing.
NOT_RECORDING = contextlib.nullcontext(trace.INVALID_SPAN)


def tracing_on() -> bool:
    """Whether this process records spans (and so propagates trace context)."""
    return _recording


def start_span(
    tracer: trace.Tracer, name: str, **kwargs: Any
) -> AbstractContextManager[trace.Span]:
    """``tracer.start_as_current_span(name, ...)``, or a span that does nothing when off."""
    if not _recording:
        return NOT_RECORDING
    return tracer.start_as_current_span(name, **kwargs)


def current_trace_headers() -> dict[str, str]:
    """The W3C trace context (traceparent, tracestate) of the current span; {} when off."""
    carrier: dict[str, str] = {}
    if _recording:
        propagate.inject(carrier)
    return carrier


@dataclass(frozen=True, slots=True)
class TelemetryConfig:
    traces_exporter: str = "none"
    traces_file: str = ""

    def __post_init__(self) -> None:
        if self.traces_exporter not in _EXPORTERS:
            raise ValueError(f"OTEL_TRACES_EXPORTER must be one of {_EXPORTERS}")
        if self.traces_exporter == "jsonl" and not self.traces_file:
            raise ValueError("OTEL_TRACES_EXPORTER=jsonl needs OMNIGATE_TRACES_FILE")

    @classmethod
    def from_env(cls) -> TelemetryConfig:
        otel = _config.load(_OtelVars, "OTEL_")
        own = _config.load(_OwnVars, "OMNIGATE_")
        return cls(otel.traces_exporter, own.traces_file)


@dataclass(frozen=True, slots=True)
class _OtelVars:
    traces_exporter: str = "none"


@dataclass(frozen=True, slots=True)
class _OwnVars:
    traces_file: str = ""


class JsonLinesSpanExporter(SpanExporter):
    """Appends finished spans as JSON lines; safe for several processes (O_APPEND)."""

    def __init__(self, path: str) -> None:
        self._file: IO[bytes] = open(path, "ab", buffering=0)  # noqa: SIM115
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for s in spans:
            ctx = s.get_span_context()
            assert ctx is not None
            lines.append(
                orjson.dumps(
                    {
                        "name": s.name,
                        "kind": s.kind.name,
                        "service": s.resource.attributes.get("service.name"),
                        "trace_id": format(ctx.trace_id, "032x"),
                        "span_id": format(ctx.span_id, "016x"),
                        "parent_span_id": format(s.parent.span_id, "016x") if s.parent else None,
                        "start_ns": s.start_time,
                        "end_ns": s.end_time,
                        "attributes": dict(s.attributes or {}),
                        "status": s.status.status_code.name,
                    },
                    default=str,
                )
                + b"\n"
            )
        with self._lock:
            # One write per batch: O_APPEND keeps lines of concurrent processes whole.
            self._file.write(b"".join(lines))
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._file.close()


def setup_telemetry(service_name: str, config: TelemetryConfig) -> TracerProvider | None:
    """Install the global tracer provider; returns it (None when tracing is off)."""
    if config.traces_exporter == "none":
        return None
    exporter: SpanExporter
    if config.traces_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    elif config.traces_exporter == "console":
        exporter = ConsoleSpanExporter()
    else:
        exporter = JsonLinesSpanExporter(config.traces_file)
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=200))
    trace.set_tracer_provider(provider)
    global _recording
    _recording = True
    return provider
