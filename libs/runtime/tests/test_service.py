"""A service's parts start in order and stop in reverse: after SIGTERM, and when start-up fails."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from libs.runtime import GC_THRESHOLDS, Runtime, Service, StartFailed

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Part:
    """A part that says when it starts and stops, and can be made to fail or hang starting."""

    name: str
    log: list[str]
    fail: bool = False
    hang: bool = False
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        self.log.append(f"start {self.name}")
        if self.fail:
            raise RuntimeError(f"{self.name} cannot start")
        if self.hang:
            self.started.set()
            await asyncio.Event().wait()
        self.started.set()

    async def stop(self) -> None:
        self.log.append(f"stop {self.name}")


def service(log: list[str], *parts: Part) -> Service[None]:
    async def start(rt: Runtime, _settings: None) -> None:
        for part in parts:
            await rt.started(part)

    return Service("test", lambda: None, start)


async def test_parts_start_in_order_and_stop_in_reverse_once_stopped() -> None:
    log: list[str] = []
    a, b, c = Part("a", log), Part("b", log), Part("c", log)
    stop = asyncio.Event()
    running = asyncio.create_task(service(log, a, b, c).serve(None, stop))
    await asyncio.wait_for(c.started.wait(), 5)
    assert log == ["start a", "start b", "start c"]
    stop.set()
    await asyncio.wait_for(running, 5)
    assert log[3:] == ["stop c", "stop b", "stop a"]


async def test_a_part_that_fails_to_start_stops_what_started_and_nothing_else() -> None:
    log: list[str] = []
    parts = Part("a", log), Part("b", log), Part("c", log, fail=True), Part("d", log)
    with pytest.raises(StartFailed, match="c cannot start"):
        await asyncio.wait_for(service(log, *parts).serve(None, asyncio.Event()), 5)
    assert log == ["start a", "start b", "start c", "stop b", "stop a"]


async def test_a_stop_during_start_up_cancels_the_start_and_stops_what_started() -> None:
    log: list[str] = []
    a, hanging, never = Part("a", log), Part("b", log, hang=True), Part("c", log)
    stop = asyncio.Event()
    running = asyncio.create_task(service(log, a, hanging, never).serve(None, stop))
    await asyncio.wait_for(hanging.started.wait(), 5)
    stop.set()
    await asyncio.wait_for(running, 5)
    # b never finished starting, so it registered no stop; a did.
    assert log == ["start a", "start b", "stop a"]


async def test_deferred_stops_run_last_first_between_parts() -> None:
    log: list[str] = []

    async def start(rt: Runtime, _settings: None) -> None:
        await rt.started(Part("pool", log))

        async def close() -> None:
            log.append("close servicer")

        rt.defer(close)
        await rt.started(Part("server", log))

    stop = asyncio.Event()
    stop.set()
    await asyncio.wait_for(Service("test", lambda: None, start).serve(None, stop), 5)
    assert log == ["start pool", "start server", "stop server", "close servicer", "stop pool"]


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    # In a child process: the collector settings and signal handlers are process-wide.
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )


_PROBE = """
import gc, os, signal
from libs import runtime

async def parts(rt, settings):
    print(gc.get_threshold(), gc.get_freeze_count() > 1000, flush=True)
    os.kill(os.getpid(), signal.SIGTERM)

runtime.Service("probe", lambda: None, parts).main()
"""


def test_main_tunes_the_collector_and_exits_cleanly_on_sigterm() -> None:
    result = _run(_PROBE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [*f"{GC_THRESHOLDS}".split(), "True"]
    assert '"msg":"probe: stopped"' in result.stderr


def test_a_malformed_setting_exits_2_naming_the_variable() -> None:
    result = _run(_PROBE, OMNIGATE_LOG_LEVEL="loud")
    assert result.returncode == 2
    assert "OMNIGATE_LOG_LEVEL" in result.stderr


def test_a_part_that_fails_to_start_exits_1_and_logs_why() -> None:
    failing = _PROBE.replace("print(", "raise OSError('no database'); print(")
    result = _run(failing)
    assert result.returncode == 1
    assert "start-up failed" in result.stderr and "no database" in result.stderr
    assert '"msg":"probe: stopped"' not in result.stderr  # it never got as far as serving
