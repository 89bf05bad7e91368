"""Platform processes start without fork(), and are awaited on uvloop as on asyncio."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
import uvloop

from deploy.local.child import Child
from deploy.local.platform import Platform, PlatformConfig, _Proc

# Python runs these hooks on every fork() it is told of (uvloop tells it), the
# same fork() that runs gRPC's pthread_atfork handlers; vfork() runs neither.
_forks = 0


def _count_fork() -> None:
    global _forks
    _forks += 1


os.register_at_fork(before=_count_fork)

LOOPS: dict[str, Callable[[Coroutine[Any, Any, Any]], Any]] = {
    "uvloop": uvloop.run,
    "asyncio": asyncio.run,
}


def _python(code: str) -> Child:
    return Child.start((sys.executable, "-c", code), env=dict(os.environ))


@pytest.mark.parametrize("loop", LOOPS)
def test_a_child_is_started_without_fork_and_its_exit_status_awaited(loop: str) -> None:
    async def scenario() -> tuple[int, int | None]:
        child = _python("import sys, time; time.sleep(0.2); sys.exit(3)")
        running = child.returncode
        return await asyncio.wait_for(child.wait(), 10), running

    forks_before = _forks
    assert LOOPS[loop](scenario()) == (3, None)
    assert _forks == forks_before


@pytest.mark.parametrize("loop", LOOPS)
def test_a_killed_child_reports_the_signal(loop: str) -> None:
    async def scenario() -> tuple[int, int, int | None]:
        child = _python("import time; time.sleep(30)")
        child.kill()
        # Two waiters at once, and a wait after the child was reaped.
        first, second = await asyncio.wait_for(asyncio.gather(child.wait(), child.wait()), 10)
        assert first == second
        return first, await child.wait(), child.returncode

    assert LOOPS[loop](scenario()) == (-signal.SIGKILL,) * 3


def test_the_platform_starts_its_processes_without_fork(tmp_path: Path) -> None:
    platform = Platform(PlatformConfig(log_dir=str(tmp_path)))
    # ``python -m platform`` prints this machine's platform and exits.
    probe = _Proc("probe", "platform", dict(os.environ), ready_url=None, ready_port=None)

    async def scenario() -> int:
        await platform._spawn(probe)
        assert probe.process is not None
        return await asyncio.wait_for(probe.process.wait(), 10)

    forks_before = _forks
    assert uvloop.run(scenario()) == 0
    assert _forks == forks_before
    assert (tmp_path / "probe.log").read_text().startswith("Linux")
