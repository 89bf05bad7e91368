"""Process entry: uvloop, a tuned garbage collector, and a stop event set by
SIGTERM/SIGINT so mains drain cleanly."""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import Awaitable, Callable

import uvloop

from libs.logs import setup_logging
from libs.telemetry import TelemetryConfig, setup_telemetry

# Young collections every 10,000 net allocations instead of 700; the older
# generations every 20 of the one below instead of 10.
GC_THRESHOLDS = (10_000, 20, 20)


def tune_gc() -> None:
    """Keep the cyclic collector off the hot path of a long-running service.

    With Python's defaults it took 5-9 % of each busy service's CPU
    (``gc.callbacks`` over a 15,000-message bench: the webhook sender 1.4 s of
    16 s, mostly full collections that rescan every module, descriptor and
    class imported at start). Those live as long as the process, so they are
    frozen out of every scan, and collections run less often; reference
    counting still frees everything that is not a cycle at once.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``main(stop)`` on uvloop; ``stop`` is set on SIGTERM or SIGINT.

    ``main`` is expected to start its parts, ``await stop.wait()``, then drain
    them in order (stop taking work, finish in-flight work, close pools).
    """

    async def _entry() -> None:
        tune_gc()
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
