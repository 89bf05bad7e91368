"""Process entry: uvloop, and a stop event set by SIGTERM/SIGINT so mains drain cleanly."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

import uvloop

from libs.logs import setup_logging
from libs.telemetry import TelemetryConfig, setup_telemetry


def run(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``main(stop)`` on uvloop; ``stop`` is set on SIGTERM or SIGINT.

    ``main`` is expected to start its parts, ``await stop.wait()``, then drain
    them in order (stop taking work, finish in-flight work, close pools).
    """

    async def _entry() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    uvloop.run(_entry())


def run_service(
    name: str,
    log_level: str,
    telemetry: TelemetryConfig,
    main: Callable[[asyncio.Event], Awaitable[None]],
) -> None:
    """A service process: JSON logs, tracing, ``run(main)``, and spans flushed at exit."""
    setup_logging(name, log_level)
    provider = setup_telemetry(name, telemetry)
    try:
        run(main)
    finally:
        if provider is not None:
            provider.shutdown()
