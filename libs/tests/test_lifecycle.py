"""A service process runs with the collector tuned: start-up objects frozen, rarer collections."""

from __future__ import annotations

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
