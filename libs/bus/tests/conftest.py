"""Fixtures of the bus tests: a broker prefix, a fresh schema and a test tracer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from libs.bus import OUTBOX_MIGRATIONS, Bus, BusConfig, QueueSpec
from tests.helpers.bus import bus_cleanup
from tests.helpers.infra import schema_pool


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture(scope="session")
def tracer(span_exporter: InMemorySpanExporter) -> trace.Tracer:
    # A provider of our own, passed explicitly: the global one can be set only
    # once per process and belongs to whoever runs the whole suite.
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    return provider.get_tracer("libs.bus.tests")


@pytest.fixture
def bus_config(bus_prefix: str) -> BusConfig:
    return BusConfig(prefix=bus_prefix, retry_delays_s=(0.2, 0.3), publish_timeout_s=10.0)


@pytest.fixture
async def declared(bus_config: BusConfig) -> AsyncIterator[list[QueueSpec]]:
    """Append the specs a test declares; their queues and the exchanges are deleted after it."""
    async with bus_cleanup(bus_config) as specs:
        yield specs


@pytest.fixture
async def bus(
    bus_config: BusConfig, tracer: trace.Tracer, declared: list[QueueSpec]
) -> AsyncIterator[Bus]:
    b = await Bus.connect(bus_config, name="libs.bus.tests", tracer=tracer)
    try:
        yield b
    finally:
        await b.close()


@pytest.fixture
async def pool(database_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    async with schema_pool(database_dsn, "bus", [OUTBOX_MIGRATIONS], max_size=6) as p:
        yield p
