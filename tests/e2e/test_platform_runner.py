"""``make run``'s runner: Ctrl-C reaches it alone, and it stops the services in order."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import orjson
import pytest

from deploy.local.platform import ROOT, Platform, PlatformConfig
from tests.helpers.infra import unique_name

pytestmark = pytest.mark.e2e


async def test_services_run_out_of_the_terminals_process_group_and_stop_quietly(
    tmp_path: Path,
) -> None:
    # A terminal's Ctrl-C signals its whole foreground process group. Had the
    # services been in it, each would have stopped at once, the dev SMSC
    # before the worker had drained ("SMPP connection lost" on every Ctrl-C).
    config = PlatformConfig.isolated(
        unique_name("runner"), own_process_groups=True, log_dir=str(tmp_path)
    )
    platform = Platform(config)
    try:
        await platform.start()
        pids = platform.pids()
        assert pids
        for name, pid in pids.items():
            assert os.getpgid(pid) == pid != os.getpgid(0), name
    finally:
        await platform.stop()
        await platform.drop()
    assert not_info(tmp_path) == []


async def test_closing_the_terminal_stops_every_service_through_the_runner(
    tmp_path: Path,
) -> None:
    # Out of the terminal's process group, the services get no SIGHUP of their
    # own when it closes: the runner must stop them, or they would run on.
    name = unique_name("runner")
    code = (
        "import asyncio; from deploy.local.platform import PlatformConfig, _run_forever; "
        f"asyncio.run(_run_forever(PlatformConfig.isolated({name!r},"
        f" own_process_groups=True, log_dir={str(tmp_path)!r})))"
    )
    services: list[int] = []
    runner = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert runner.stdout is not None
        async with asyncio.timeout(120):
            while b"Omnigate is running" not in await runner.stdout.readline():
                pass
        services = _children(runner.pid)
        assert len(services) == 6  # dev SMSC, numbers, sms, worker, webhooks, edge
        runner.send_signal(signal.SIGHUP)
        assert await asyncio.wait_for(runner.wait(), 60) == 0
        assert _alive(services) == []
    finally:
        if runner.returncode is None:
            runner.kill()
            await runner.wait()
        for pid in _alive(services):
            os.kill(pid, signal.SIGKILL)  # what a failed run left behind
        await Platform(PlatformConfig.isolated(name)).drop()
    assert not_info(tmp_path) == []


def _alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rfind(")") + 2 :].split()[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def not_info(log_dir: Path) -> list[str]:
    """Every log line in ``log_dir`` above info level, or not a log record at all."""
    found = []
    for log in sorted(log_dir.glob("*.log")):
        for line in log.read_bytes().splitlines():
            record = orjson.loads(line) if line.startswith(b"{") else {"msg": line.decode()}
            if record.get("level") not in ("info", "debug"):
                found.append(f"{log.name}: {record}")
    return found
