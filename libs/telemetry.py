"""OpenTelemetry set-up, chosen by the standard ``OTEL_*`` variables.

``OTEL_TRACES_EXPORTER``: ``none`` (default: no SDK provider is installed, so
every span is the API's no-op and tracing costs nothing), ``otlp`` (the OTLP
gRPC exporter, configured by the usual ``OTEL_EXPORTER_OTLP_*`` variables),
``console``, or ``jsonl`` (Omnigate's own: one JSON object per finished span
appended to ``OMNIGATE_TRACES_FILE``; what tests and developers without a
collector read).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

import orjson
from opentelemetry import trace
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
    return provider
