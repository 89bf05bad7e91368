"""A service process runs with the collector tuned (start-up objects frozen, rarer
collections), and a background one at a lower CPU priority."""

from __future__ import annotations

import os
import subprocess
import sys

from libs.lifecycle import GC_THRESHOLDS

# In a child process: the settings are process-wide and would leak into other tests.
_PROBE = """
import asyncio, gc
from libs.lifecycle import run

async def main(stop: asyncio.Event) -> None:
    print(gc.get_threshold(), gc.get_freeze_count() > 1000)

run(main)
"""


def test_run_freezes_start_up_objects_and_raises_the_thresholds() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.split() == [*f"{GC_THRESHOLDS}".split(), "True"]


# A service's entry, in a child process: the priority is the process's own.
_SERVICE = """
import asyncio, os, sys
from libs.lifecycle import run_service
from libs.telemetry import TelemetryConfig

async def main(stop: asyncio.Event) -> None:
    print(os.getpriority(os.PRIO_PROCESS, 0))

run_service("probe", "warning", TelemetryConfig(), main, background=sys.argv[1] == "background")
"""


def _priority(kind: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _SERVICE, kind],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("OMNIGATE_")} | env,
    )


def test_a_background_service_runs_below_whatever_started_it() -> None:
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert int(_priority("background").stdout) == min(own + 10, 19)
    assert int(_priority("background", OMNIGATE_BACKGROUND_NICE="3").stdout) == min(own + 3, 19)
    assert int(_priority("background", OMNIGATE_BACKGROUND_NICE="0").stdout) == own
    assert int(_priority("request-path").stdout) == own


def test_a_priority_out_of_range_stops_the_service_at_start() -> None:
    failed = _priority("background", OMNIGATE_BACKGROUND_NICE="20")
    assert failed.returncode != 0
    assert "OMNIGATE_BACKGROUND_*: nice must be 0..19, got 20" in failed.stderr
    assert failed.stdout == ""
