"""Channels spread calls over every address of their target, and servers make them re-resolve."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import grpc

from libs.grpc.client import open_channel
from libs.grpc.config import GrpcClientConfig, GrpcServerConfig
from libs.grpc.server import RunningServer, start_server

METHOD = "/omnigate.test.Who/Answer"


def _who(name: str) -> Callable[[grpc.aio.Server], None]:
    """Registers a method that answers with this server's name and the caller's address."""

    async def answer(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return f"{name} {context.peer()}".encode()

    handler = grpc.unary_unary_rpc_method_handler(
        answer, request_deserializer=bytes, response_serializer=bytes
    )

    def register(server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("omnigate.test.Who", {"Answer": handler}),)
        )

    return register


@asynccontextmanager
async def servers(*names: str, **config: float) -> AsyncIterator[list[RunningServer]]:
    running = [await start_server(GrpcServerConfig(port=0, **config), _who(n)) for n in names]
    try:
        yield running
    finally:
        for s in running:
            await s.stop(0)


async def _ask(channel: grpc.aio.Channel) -> tuple[str, str]:
    call = channel.unary_unary(METHOD, request_serializer=bytes, response_deserializer=bytes)
    name, peer = (await call(b"")).decode().split(" ", 1)
    return name, peer


async def test_calls_are_spread_over_every_address_of_the_target() -> None:
    async with servers("a", "b") as (a, b):
        target = f"ipv4:127.0.0.1:{a.port},127.0.0.1:{b.port}"
        async with open_channel(GrpcClientConfig(target=target)) as channel:
            # The first calls go to whichever connection is ready first.
            for _ in range(10):
                await _ask(channel)
            answers = [(await _ask(channel))[0] for _ in range(20)]
    # pick_first, gRPC's default, would send all twenty to one of them.
    assert min(answers.count("a"), answers.count("b")) >= 8


async def test_a_server_closes_old_connections_so_clients_connect_again() -> None:
    async with servers("a", max_connection_age_s=0.3) as (a,):
        config = GrpcClientConfig(target=f"127.0.0.1:{a.port}")
        async with open_channel(config) as channel:
            _, first = await _ask(channel)
            await asyncio.sleep(1.5)
            _, later = await _ask(channel)
    # Another source port: a new connection, made after resolving the name again.
    assert later != first


async def test_no_call_fails_while_connections_are_aged_out() -> None:
    async with servers("a", "b", max_connection_age_s=0.2) as (a, b):
        target = f"ipv4:127.0.0.1:{a.port},127.0.0.1:{b.port}"
        async with open_channel(GrpcClientConfig(target=target)) as channel:
            deadline = asyncio.get_running_loop().time() + 2.0

            async def caller() -> int:
                calls = 0
                while asyncio.get_running_loop().time() < deadline:
                    await _ask(channel)  # any failure fails the test
                    calls += 1
                return calls

            counts = await asyncio.gather(*(caller() for _ in range(8)))
    # Ten generations of connections at least, and calls all through.
    assert min(counts) > 50
