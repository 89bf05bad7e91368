"""``make run``'s runner: Ctrl-C reaches it alone, and it stops the services in order."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from deploy.local.platform import Platform, PlatformConfig
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


def not_info(log_dir: Path) -> list[str]:
    """Every log line in ``log_dir`` above info level, or not a log record at all."""
    found = []
    for log in sorted(log_dir.glob("*.log")):
        for line in log.read_bytes().splitlines():
            record = orjson.loads(line) if line.startswith(b"{") else {"msg": line.decode()}
            if record.get("level") not in ("info", "debug"):
                found.append(f"{log.name}: {record}")
    return found
