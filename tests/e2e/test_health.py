"""The processes without a gRPC API answer gRPC health, and it follows their connections.

A platform of its own: the dev SMSC is killed here and every process reaches
RabbitMQ through a TCP proxy that is cut, which the session platform's other
tests must not see. Two workers, so each replica is shown to have its own
health port.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from deploy.local.platform import Platform, PlatformConfig, grpc_health
from tests.e2e.conftest import running_platform, through
from tests.helpers.infra import unique_name
from tests.helpers.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
WORKERS = ("sms-worker-0", "sms-worker-1")
# Generous: the statuses turn within about a second of the connection, and
# the SMPP client's reconnect backoff is capped at 1 s below.
DEADLINE_S = 30.0


@pytest.fixture(scope="module")
async def health_platform(broker_proxy: TcpProxy, run_dir: Path) -> AsyncIterator[Platform]:
    config = PlatformConfig.isolated(
        unique_name("health"),
        sms_workers=len(WORKERS),
        amqp_url=through(broker_proxy),
        log_dir=str(run_dir / "logs-health"),
    )
    config.extra_env["OMNIGATE_SMPP_RECONNECT_MAX_S"] = "1"
    async with running_platform(config) as running:
        yield running


def _name(status: int) -> str:
    return health_pb2.HealthCheckResponse.ServingStatus.Name(status)


async def status(platform: Platform, name: str, service: str = "") -> int | None:
    """What the process's health server says now; None if it does not answer."""
    try:
        return await grpc_health(platform.health_ports()[name], service)
    except grpc.aio.AioRpcError:
        return None


async def wait_for(platform: Platform, names: tuple[str, ...], wanted: int) -> None:
    """Poll each process until it reports ``wanted``; fail after DEADLINE_S."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    for name in names:
        while (seen := await status(platform, name)) != wanted:
            if loop.time() > deadline:
                said = "no answer" if seen is None else _name(seen)
                raise AssertionError(f"{name} still says {said}, not {_name(wanted)}")
            await asyncio.sleep(0.1)


async def test_each_worker_and_the_webhook_sender_have_their_own_health_port(
    health_platform: Platform,
) -> None:
    ports = health_platform.health_ports()
    serving = [*WORKERS, "webhooks", "sms"]
    assert len({ports[name] for name in serving}) == len(serving)


async def test_a_worker_is_not_serving_while_its_smpp_bind_is_down(
    health_platform: Platform,
) -> None:
    await wait_for(health_platform, (*WORKERS, "webhooks"), SERVING)
    await health_platform.kill("devsmsc")
    try:
        await wait_for(health_platform, WORKERS, NOT_SERVING)
        for worker in WORKERS:
            assert await status(health_platform, worker, "smpp") == NOT_SERVING
            assert await status(health_platform, worker, "bus") == SERVING
        # The webhook sender needs no SMSC.
        assert await status(health_platform, "webhooks") == SERVING
    finally:
        await health_platform.restart("devsmsc")
    await wait_for(health_platform, WORKERS, SERVING)


async def test_workers_and_the_webhook_sender_are_not_serving_while_the_bus_is_cut(
    health_platform: Platform, broker_proxy: TcpProxy
) -> None:
    names = (*WORKERS, "webhooks")
    await wait_for(health_platform, names, SERVING)
    broker_proxy.cut()
    try:
        await wait_for(health_platform, names, NOT_SERVING)
        assert await status(health_platform, "webhooks", "bus") == NOT_SERVING
        assert await status(health_platform, WORKERS[0], "smpp") == SERVING
    finally:
        broker_proxy.restore()
    await wait_for(health_platform, names, SERVING)


async def test_sigterm_tells_a_watcher_not_serving_before_the_worker_exits(
    health_platform: Platform,
) -> None:
    worker = WORKERS[1]
    await wait_for(health_platform, (worker,), SERVING)
    process = health_platform.process(worker)
    port = health_platform.health_ports()[worker]
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
            first = await asyncio.wait_for(watch.read(), DEADLINE_S)
            assert first.status == SERVING
            process.terminate()
            # A server closed without saying so first would end the stream with an error.
            update = await asyncio.wait_for(watch.read(), DEADLINE_S)
            assert update is not grpc.aio.EOF
            assert update.status == NOT_SERVING
            watch.cancel()
        assert await asyncio.wait_for(process.wait(), DEADLINE_S) == 0
    finally:
        await health_platform.restart(worker)
    await wait_for(health_platform, (worker,), SERVING)
