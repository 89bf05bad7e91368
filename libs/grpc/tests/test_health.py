"""The health-only server, asked by a real gRPC health client over a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from libs.grpc.config import GrpcServerConfig
from libs.grpc.health import Check, HealthServer, start_health_server

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
# Far above the check interval below: only a server that never turns fails.
DEADLINE_S = 5.0


class Flags:
    """Check results a test flips; a check reads its flag, as the real ones read a state."""

    def __init__(self, **values: bool) -> None:
        self.values = values

    def checks(self) -> dict[str, Check]:
        return {name: (lambda name=name: self.values[name]) for name in self.values}


async def check(port: int, service: str = "") -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        resp = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=2
        )
        return int(resp.status)


async def wait_for(port: int, status: int, service: str = "") -> None:
    """Poll until the server reports ``status``; fail after DEADLINE_S."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while (seen := await check(port, service)) != status:
        if loop.time() > deadline:
            name = health_pb2.HealthCheckResponse.ServingStatus.Name
            raise AssertionError(f"{service or '(overall)'} still {name(seen)}, not {name(status)}")
        await asyncio.sleep(0.01)


@pytest.fixture
async def flags() -> Flags:
    return Flags(bus=True, smpp=True)


@pytest.fixture
async def server(flags: Flags) -> AsyncIterator[HealthServer]:
    health = await start_health_server(GrpcServerConfig(port=0), flags.checks(), interval_s=0.02)
    yield health
    await health.stop(0)


async def test_overall_status_is_serving_only_while_every_check_passes(
    server: HealthServer, flags: Flags
) -> None:
    assert await check(server.port) == SERVING
    flags.values["smpp"] = False
    await wait_for(server.port, NOT_SERVING)
    assert await check(server.port, "smpp") == NOT_SERVING
    assert await check(server.port, "bus") == SERVING
    flags.values["smpp"] = True
    await wait_for(server.port, SERVING)
    flags.values["bus"] = False
    await wait_for(server.port, NOT_SERVING)
    assert await check(server.port, "bus") == NOT_SERVING


async def test_a_failing_check_is_reported_from_the_first_answer() -> None:
    flags = Flags(bus=True, smpp=False)
    health = await start_health_server(
        GrpcServerConfig(port=0),
        flags.checks(),
        interval_s=60,  # no re-evaluation during the test: the start itself must have checked
    )
    try:
        assert await check(health.port) == NOT_SERVING
    finally:
        await health.stop(0)


async def test_a_check_that_raises_counts_as_failing(server: HealthServer) -> None:
    def broken() -> bool:
        raise RuntimeError("no answer")

    health = await start_health_server(
        GrpcServerConfig(port=0), {"bus": lambda: True, "broken": broken}, interval_s=60
    )
    try:
        assert await check(health.port) == NOT_SERVING
        assert await check(health.port, "broken") == NOT_SERVING
    finally:
        await health.stop(0)


async def test_stop_reports_not_serving_before_the_server_closes(
    server: HealthServer,
) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
        first = await asyncio.wait_for(watch.read(), DEADLINE_S)
        assert first.status == SERVING
        # The Watch stream is in flight, so the server stays up for the grace
        # period and the stream sees what a prober asking now would see.
        stopping = asyncio.create_task(server.stop(grace_s=DEADLINE_S))
        second = await asyncio.wait_for(watch.read(), DEADLINE_S)
        assert second.status == NOT_SERVING
        assert not stopping.done()
        watch.cancel()
        await asyncio.wait_for(stopping, DEADLINE_S)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await check(server.port)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_an_api_on_the_same_server_stays_serving_while_a_check_fails() -> None:
    flags = Flags(bus=False)
    api = "omnigate.test.Api"
    handler = grpc.unary_unary_rpc_method_handler(lambda request, context: request)

    def register(server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(api, {"Echo": handler}),)
        )

    health = await start_health_server(
        GrpcServerConfig(port=0), flags.checks(), register=register, interval_s=60
    )
    try:
        assert await check(health.port) == NOT_SERVING
        assert await check(health.port, api) == SERVING
    finally:
        await health.stop(0)


async def test_only_health_and_reflection_are_served(server: HealthServer) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        call = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=2
        )
        async for resp in call:
            names = {s.name for s in resp.list_services_response.service}
            break
    assert names == {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"}


@pytest.mark.parametrize(
    ("checks", "interval_s", "error"),
    [
        ({}, 1.0, "at least one check"),
        ({"": lambda: True}, 1.0, "overall status"),
        ({"bus": lambda: True}, 0.0, "interval_s"),
    ],
)
async def test_bad_arguments_are_refused_before_binding(
    checks: dict[str, Check], interval_s: float, error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        await start_health_server(GrpcServerConfig(port=0), checks, interval_s=interval_s)
