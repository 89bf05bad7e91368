"""A service process: its settings loaded, its parts started, drained on SIGTERM.

An entry point is one ``Service``: a name, the loader of its own settings,
and ``parts(rt, settings)``, which starts its parts in order through the
``Runtime``. ``main`` does the rest, the same way for every process:

1. load ``ProcessSettings`` (log level, tracing, metrics) and the service's
   settings; a missing or malformed variable exits with status 2 and names it;
2. JSON logs, the tracer provider, uvloop, the collector tuned;
3. metrics served at once (whatever sees the process ready may scrape it);
4. ``parts`` run; the process is ready when they have all started;
5. on SIGTERM or SIGINT the parts are stopped in reverse order (the server
   started last reports NOT_SERVING first, consumers stop taking work and
   finish what they hold, then relays, connections and pools close). A
   signal during start-up, or a part that fails to start, stops what had
   started and exits (status 1 for a failure).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import uvloop

from libs.config import ConfigError
from libs.logs import setup_logging
from libs.metrics import serve_metrics
from libs.runtime.parts import Runtime
from libs.runtime.process import stop_on_signals, tune_gc
from libs.runtime.settings import ProcessSettings
from libs.telemetry import setup_telemetry

log = logging.getLogger("omnigate.runtime")

S = TypeVar("S")


class StartFailed(RuntimeError):
    """A part failed to start; what had started was stopped again."""


@dataclass(frozen=True, slots=True)
class Service(Generic[S]):
    name: str
    settings: Callable[[], S]
    parts: Callable[[Runtime, S], Awaitable[None]]

    def load(self) -> tuple[ProcessSettings, S]:
        """Every setting the process reads, from its environment."""
        return ProcessSettings.from_env(), self.settings()

    def main(self) -> None:
        """The console script: run until SIGTERM."""
        try:
            process, settings = self.load()
        except ConfigError as exc:
            # Logging is not set up yet (its level is a setting too): say it plainly.
            print(f"omnigate-{self.name}: bad configuration: {exc}", file=sys.stderr)
            raise SystemExit(2) from exc
        setup_logging(self.name, process.log.log_level)
        provider = setup_telemetry(self.name, process.telemetry)
        try:
            uvloop.run(self._entry(process, settings))
        except StartFailed as exc:
            raise SystemExit(1) from exc
        finally:
            if provider is not None:
                provider.shutdown()

    async def _entry(self, process: ProcessSettings, settings: S) -> None:
        tune_gc()
        serve_metrics(process.metrics)
        await self.serve(settings, stop_on_signals())

    async def serve(self, settings: S, stop: asyncio.Event) -> None:
        """Start the parts, wait for ``stop``, stop the parts (also what tests drive)."""
        rt = Runtime(self.name)
        began = time.monotonic()
        try:
            if not await _until_stopped(self.parts(rt, settings), stop):
                log.warning("%s: stopped while starting", self.name)
                return
            log.info("%s: started in %.1f s", self.name, time.monotonic() - began)
            await stop.wait()
            log.info("%s: draining", self.name)
        except Exception as exc:
            log.exception("%s: start-up failed; stopping what started", self.name)
            raise StartFailed(f"{self.name} did not start: {exc}") from exc
        finally:
            await rt.aclose()
        log.info("%s: stopped", self.name)


async def _until_stopped(starting: Awaitable[None], stop: asyncio.Event) -> bool:
    """Run ``starting`` to its end (True), or cancel it when ``stop`` is set first (False)."""
    task = asyncio.ensure_future(starting)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if task.done():
        task.result()
        return True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return False
