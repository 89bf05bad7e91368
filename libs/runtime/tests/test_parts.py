"""The runtime's parts on the real PostgreSQL, RabbitMQ and a real gRPC client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import asyncpg
import grpc
import pytest
from aiohttp import web
from grpc_health.v1 import health_pb2, health_pb2_grpc

from libs.bus import OUTBOX_MIGRATIONS, Bus, BusConfig
from libs.db import DatabaseConfig
from libs.grpc.config import GrpcServerConfig
from libs.runtime import Runtime, Service, StartFailed
from tests.helpers.bus import bus_cleanup
from tests.helpers.infra import free_port, unique_name

pytestmark = pytest.mark.integration


@dataclass
class Started:
    pool: asyncpg.Pool | None = None
    bus: Bus | None = None
    port: int = 0


async def _health(port: int) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        resp = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=2
        )
        return int(resp.status)


@pytest.fixture
async def bus_config(bus_prefix: str) -> AsyncIterator[BusConfig]:
    config = BusConfig(prefix=bus_prefix)
    async with bus_cleanup(config):
        yield config


async def test_database_bus_outbox_and_server_start_serve_and_close(
    database_dsn: str, bus_config: BusConfig
) -> None:
    seen = Started()
    ready = asyncio.Event()

    async def parts(rt: Runtime, _settings: None) -> None:
        db = DatabaseConfig(dsn=database_dsn, schema=unique_name("rt"), min_size=1)
        seen.pool = await rt.database(db, [OUTBOX_MIGRATIONS])
        seen.bus = await rt.bus(bus_config)
        await rt.outbox(seen.pool, seen.bus)
        seen.port = await rt.grpc(GrpcServerConfig(port=0), checks={"bus": seen.bus.connected})
        ready.set()

    stop = asyncio.Event()
    running = asyncio.create_task(Service("rt", lambda: None, parts).serve(None, stop))
    await asyncio.wait_for(ready.wait(), 30)
    assert seen.pool is not None and seen.bus is not None
    # Migrated: the outbox table is there.
    assert await seen.pool.fetchval("SELECT count(*) FROM outbox") == 0
    assert await _health(seen.port) == health_pb2.HealthCheckResponse.SERVING
    stop.set()
    await asyncio.wait_for(running, 30)
    assert seen.pool.is_closing()
    assert seen.bus.connection.is_closed
    with pytest.raises(grpc.aio.AioRpcError):
        await _health(seen.port)


async def test_an_app_failing_to_start_undoes_the_contexts_it_had_started() -> None:
    events: list[str] = []

    async def first(_app: web.Application) -> AsyncIterator[None]:
        events.append("open pool")
        yield
        events.append("close pool")

    async def second(_app: web.Application) -> AsyncIterator[None]:
        raise OSError("cannot reach the sms service")
        yield  # pragma: no cover

    async def parts(rt: Runtime, _settings: None) -> None:
        app = web.Application()
        app.cleanup_ctx.extend([first, second])
        await rt.http(app, "127.0.0.1", free_port(), shutdown_grace_s=1)

    with pytest.raises(StartFailed, match="cannot reach the sms service"):
        await Service("rt", lambda: None, parts).serve(None, asyncio.Event())
    assert events == ["open pool", "close pool"]


async def test_the_http_listener_closes_on_stop() -> None:
    port = free_port()
    ready = asyncio.Event()

    async def up(_request: web.Request) -> web.Response:
        return web.Response(text="up")

    async def parts(rt: Runtime, _settings: None) -> None:
        app = web.Application()
        app.router.add_get("/", up)
        await rt.http(app, "127.0.0.1", port, shutdown_grace_s=1)
        ready.set()

    stop = asyncio.Event()
    running = asyncio.create_task(Service("rt", lambda: None, parts).serve(None, stop))
    await asyncio.wait_for(ready.wait(), 10)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/") as r:
            assert await r.text() == "up"
        stop.set()
        await asyncio.wait_for(running, 10)
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"http://127.0.0.1:{port}/")
