"""Process entry: uvloop, and a stop event set by SIGTERM/SIGINT so mains drain cleanly."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

import uvloop


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
