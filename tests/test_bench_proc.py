"""What the benchmark reads from /proc: wake-ups are counted over every thread."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from loadtests.proc import wakeups


def _main_thread_wakeups() -> int:
    status = Path(f"/proc/self/task/{threading.get_native_id()}/status").read_text()
    return int(status.split("\nvoluntary_ctxt_switches:")[1].split()[0])


def test_the_sleeps_of_the_process_count() -> None:
    before = wakeups(os.getpid())
    for _ in range(20):
        time.sleep(0.001)
    assert wakeups(os.getpid()) - before >= 20


def test_the_sleeps_of_its_other_threads_count_too() -> None:
    slept, done = threading.Event(), threading.Event()

    def sleeper() -> None:
        for _ in range(30):
            time.sleep(0.001)
        slept.set()
        done.wait()

    other = threading.Thread(target=sleeper)
    other.start()
    try:
        slept.wait()
        assert wakeups(os.getpid()) - _main_thread_wakeups() >= 30
    finally:
        done.set()
        other.join()


def test_a_process_that_is_gone_has_none() -> None:
    assert wakeups(2**22 + 1) == 0  # above the largest pid Linux gives
