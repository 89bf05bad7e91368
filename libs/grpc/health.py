"""A gRPC server whose health follows checks of the process's own state.

A process that serves no RPCs (the sms worker) must still let an
orchestrator learn when it cannot work: a metrics endpoint answers just as
well after the broker connection or the SMPP bind is lost. So it serves the
standard gRPC health service (and reflection, for ``grpcurl``), built by
``start_server`` like every other gRPC server, whose overall status (service
``""``) is SERVING only while every named check passes. Each check's own
status is served under its name too (``grpc_health_probe -service smpp``),
so an operator can see which one failed. A process with an API (``register``)
serves it on the same server; its services' own names stay SERVING, so a
probe can ask whether the API answers (its name) apart from whether the
process can do all its work (``""``).

Checks are plain reads of state their libraries keep anyway (aio-pika's
``connected`` event, the SMPP client's ``bound``), evaluated by one task
about once a second: nothing is measured on the message path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

from grpc_health.v1 import health_pb2

from libs.grpc.config import GrpcServerConfig
from libs.grpc.server import Register, RunningServer, start_server

log = logging.getLogger("omnigate.grpc")

Check = Callable[[], bool]

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class HealthServer:
    """A started server whose health follows its checks; ``stop``: NOT_SERVING, then closed."""

    def __init__(
        self, server: RunningServer, checks: Mapping[str, Check], interval_s: float
    ) -> None:
        self._server = server
        self._checks = dict(checks)
        self._interval_s = interval_s
        self._passing: dict[str, bool] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return self._server.port

    async def _start(self) -> None:
        await self._evaluate()
        self._task = asyncio.create_task(self._watch(), name="grpc-health-checks")

    async def _evaluate(self) -> None:
        """Run every check and publish the statuses that changed."""
        health = self._server.health
        changed = False
        for name, check in self._checks.items():
            try:
                passing = bool(check())
            except Exception:  # a check that cannot answer is failing
                log.exception("health check %s raised", name)
                passing = False
            if self._passing.get(name) != passing:
                self._passing[name] = passing
                changed = True
                await health.set(name, SERVING if passing else NOT_SERVING)
        if changed:
            failing = sorted(n for n, ok in self._passing.items() if not ok)
            if failing:
                log.warning("health: NOT_SERVING, failing: %s", ", ".join(failing))
            else:
                log.info("health: SERVING")
            await health.set("", NOT_SERVING if failing else SERVING)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await self._evaluate()

    async def stop(self, grace_s: float) -> None:
        """NOT_SERVING for every name first (so the pod leaves readiness), then close."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._server.stop(grace_s)


async def start_health_server(
    config: GrpcServerConfig,
    checks: Mapping[str, Check],
    *,
    register: Register | None = None,
    interval_s: float = 1.0,
) -> HealthServer:
    """Serve gRPC health on ``config``'s port; ``""`` is SERVING while every check passes.

    ``checks`` maps a name (``"bus"``, ``"smpp"``) to a cheap, synchronous
    test; binds port 0 in tests (``port`` says which it got).
    """
    if not checks:
        raise ValueError("a health server needs at least one check")
    if "" in checks:
        raise ValueError('"" is the overall status, not a check name')
    if interval_s <= 0:
        raise ValueError("interval_s must be positive")
    server = await start_server(config, register)
    health = HealthServer(server, checks, interval_s)
    await health._start()
    return health
