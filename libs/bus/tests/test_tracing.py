"""One trace from the request that wrote the outbox row to the consumer that handled it."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from libs.bus import (
    EVENTS,
    Bus,
    BusConfig,
    Consumer,
    OutboxRelay,
    OutgoingMessage,
    QueueSpec,
    add_to_outbox,
)
from libs.telemetry import tracing_on
from tests.helpers.bus import Collector

pytestmark = pytest.mark.integration


async def spans_of(
    exporter: InMemorySpanExporter, trace_id: int, names: set[str]
) -> dict[str, ReadableSpan]:
    """The ended spans of ``trace_id`` named in ``names``, waiting until all have ended."""
    async with asyncio.timeout(20):
        while True:
            found = {
                s.name: s
                for s in exporter.get_finished_spans()
                if s.context is not None and s.context.trace_id == trace_id
            }
            if names <= found.keys():
                return found
            await asyncio.sleep(0.02)  # polling interval, not an assertion


async def test_trace_flows_from_outbox_through_relay_to_consumer(
    bus: Bus,
    pool: asyncpg.Pool,
    declared: list[QueueSpec],
    tracer: trace.Tracer,
    span_exporter: InMemorySpanExporter,
) -> None:
    spec = QueueSpec("test.traced", events=("test.call.*",))
    declared.append(spec)
    got = Collector()
    queue = f"{bus.config.prefix}.test.traced"
    async with Consumer(bus, spec, got), OutboxRelay(pool, bus.publisher):
        with tracer.start_as_current_span("POST /v1/calls") as request:
            async with pool.acquire() as conn, conn.transaction():
                sent = OutgoingMessage(EVENTS, "test.call.started", b"", "x.v1.Call", "ten_9")
                await add_to_outbox(conn, [sent])
        await got.wait_for(1)

    trace_id = request.get_span_context().trace_id
    spans = await spans_of(
        span_exporter, trace_id, {"test.call.started publish", f"{queue} process"}
    )
    publish = spans["test.call.started publish"]
    process = spans[f"{queue} process"]
    assert publish.kind is trace.SpanKind.PRODUCER
    assert publish.parent is not None
    assert publish.parent.span_id == request.get_span_context().span_id
    assert publish.attributes is not None
    assert publish.attributes["messaging.system"] == "rabbitmq"
    assert publish.attributes["messaging.destination.name"] == f"{bus.config.prefix}.events"
    assert publish.attributes["messaging.message.id"] == sent.message_id
    assert process.kind is trace.SpanKind.CONSUMER
    assert process.parent is not None
    assert publish.context is not None
    assert process.parent.span_id == publish.context.span_id
    assert process.attributes is not None
    assert process.attributes["messaging.operation.type"] == "process"


async def test_without_tracing_nothing_is_traced_and_given_trace_headers_travel_on(
    bus_config: BusConfig, declared: list[QueueSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Off must cost nothing: no span is made and no trace header parsed or written.
    def untouchable(*args: object, **kwargs: object) -> None:
        raise AssertionError("the tracing API was used with tracing off")

    monkeypatch.setattr(propagate, "inject", untouchable)
    monkeypatch.setattr(propagate, "extract", untouchable)
    monkeypatch.setattr(trace, "get_tracer", untouchable)
    assert not tracing_on()
    spec = QueueSpec("test.untraced", events=("test.call.*",))
    declared.append(spec)
    got = Collector()
    upstream = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    bus = await Bus.connect(bus_config, name="libs.bus.tests.untraced")
    try:
        async with Consumer(bus, spec, got):
            await bus.publisher.publish(
                OutgoingMessage(
                    EVENTS,
                    "test.call.started",
                    b"",
                    "x.v1.Call",
                    "ten_9",
                    headers={"traceparent": upstream},
                )
            )
            (delivery,) = await got.wait_for(1)
    finally:
        await bus.close()
    assert delivery.trace_context is None
    assert delivery.headers["traceparent"] == upstream
