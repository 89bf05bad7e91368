"""The parts a service declares, each started by one call and stopped in reverse order.

Every method starts one part and, in the same step, registers how it stops
on the runtime's ``AsyncExitStack``: a part is stopped only if it started,
and parts are stopped in the reverse of the order they started in, whether
the process drains after SIGTERM or start-up failed half-way. So a service
declares its parts in the order they depend on each other (database, bus,
outbox relay, what uses them, consumers, then the server that reports the
process ready) and never writes a teardown of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import Protocol, TypeVar

import asyncpg
from aiohttp import web

from libs.bus import Bus, BusConfig, OutboxRelay, QueueSpec, declare_queue
from libs.db import DatabaseConfig, MigrationSource, create_pool, migrate
from libs.grpc.config import GrpcServerConfig
from libs.grpc.health import Check, start_health_server
from libs.grpc.server import Register, start_server

log = logging.getLogger("omnigate.runtime")


class Startable(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


P = TypeVar("P", bound=Startable)


class Runtime:
    """Starts the parts of the service ``name``; ``aclose`` stops them, last first."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._stack = AsyncExitStack()

    def defer(self, stop: Callable[[], Awaitable[object]]) -> None:
        """Run ``stop`` when the process stops, before the parts started earlier are stopped."""
        self._stack.push_async_callback(stop)

    async def aclose(self) -> None:
        await self._stack.aclose()

    async def started(self, part: P) -> P:
        """``part.start()`` now, ``part.stop()`` when the process stops."""
        await part.start()
        self.defer(part.stop)
        return part

    async def database(
        self, config: DatabaseConfig, migrations: Sequence[MigrationSource]
    ) -> asyncpg.Pool:
        """A pool on the service's schema, migrated (under an advisory lock: replicas wait)."""
        pool = await create_pool(config)
        self.defer(pool.close)
        await migrate(pool, config.schema, list(migrations))
        return pool

    async def bus(self, config: BusConfig, *, declare: Sequence[QueueSpec] = ()) -> Bus:
        """The process's broker connection; ``declare``: queues that must exist from now on
        (a service's command queue keeps commands even before any consumer starts)."""
        bus = await Bus.connect(config, name=self.name)
        self.defer(bus.close)
        if declare:
            channel = await bus.channel()
            for spec in declare:
                await declare_queue(channel, config, spec)
            await channel.close()
        return bus

    async def outbox(self, pool: asyncpg.Pool, bus: Bus) -> OutboxRelay:
        """The relay that publishes what this process's transactions wrote to the outbox."""
        return await self.started(OutboxRelay(pool, bus.publisher, name=self.name))

    async def grpc(
        self,
        config: GrpcServerConfig,
        register: Register | None = None,
        *,
        checks: Mapping[str, Check] | None = None,
    ) -> int:
        """The gRPC server (``register`` adds the API, if any) with health and reflection.

        With ``checks`` its overall health (``""``) is SERVING only while all
        of them pass (``libs.grpc.health``). Start it last: once it answers,
        the process is ready. Returns the bound port.
        """
        server = (
            await start_health_server(config, checks, register=register)
            if checks
            else await start_server(config, register)
        )
        self.defer(lambda: server.stop(config.grace_s))
        log.info("%s: gRPC on %s:%d", self.name, config.host, server.port)
        return server.port

    async def http(
        self, app: web.Application, host: str, port: int, *, shutdown_grace_s: float
    ) -> None:
        """Serve ``app``; on stop, close the listener, then let requests in flight finish."""
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_grace_s)
        # Deferred first: cleanup also undoes the app's cleanup contexts that
        # started, when a later one fails during setup.
        self.defer(runner.cleanup)
        await runner.setup()
        site = web.TCPSite(runner, host, port, backlog=1024)
        await site.start()
        log.info("%s: HTTP on http://%s:%d", self.name, host, port)
