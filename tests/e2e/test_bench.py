"""``make bench`` (issue 10) runs end to end and prints its one line of figures."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from deploy.local.platform import ROOT

pytestmark = pytest.mark.e2e


def test_bench_prints_its_figures_with_nothing_lost() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loadtests.bench", "--messages", "300", "--receipt-delay", "0.2"],
        cwd=ROOT,
        capture_output=True,
        timeout=300,
        check=True,
    )
    figures = orjson.loads(done.stdout.splitlines()[-1])
    assert (figures["offered"], figures["accepted"]) == (300, 300)
    assert (figures["lost"], figures["duplicate_submits"], figures["bad_signatures"]) == (0, 0, 0)
    assert figures["duplicate_webhooks"] == 0
    processes = {"devsmsc", "numbers", "sms", "sms-worker-0", "webhooks", "edge-0"}
    assert set(figures["peak_rss_mb"]) == processes
    assert processes | {"postgres", "rabbitmq", "redis", "bench", "total"} <= set(
        figures["cpu_ms_per_msg"]
    )
    woken = figures["wakeups_per_msg"]
    assert processes | {"postgres", "rabbitmq", "redis", "bench", "total"} <= set(woken)
    # Every service waits for work and is woken for it; PostgreSQL once per statement.
    assert all(woken[n] > 0 for n in processes | {"postgres"})
    by_process = figures["db_statements_per_msg_by_process"]
    assert by_process["sms"] > 0 and by_process["sms-worker-0"] > 0
    assert figures["publishes_per_msg"] >= 2  # its two status events, at least
    assert figures["publishes_per_msg_by_process"]["sms-worker-0"] == 2.0
    assert figures["db_rows_scanned_per_msg"] >= 0
    assert figures["e2e_per_s"] > 0


def test_a_kill_drill_that_did_not_happen_fails_instead_of_reading_as_a_pass() -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "loadtests.bench", "--messages", "50"),
            *("--receipt-delay", "0.2", "--kill-worker-after", "600"),
        ],
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 1
    assert b"sms-worker-0 was not killed" in done.stderr
    figures = orjson.loads(done.stdout.splitlines()[-1])
    assert (figures["accepted"], figures["worker_killed_at_accepted"]) == (50, None)


def test_killing_the_webhooks_service_mid_load_loses_no_webhook() -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "loadtests.bench", "--messages", "1500"),
            *("--concurrency", "16", "--receipt-delay", "0.2", "--kill-webhooks-after", "1"),
        ],
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = orjson.loads(done.stdout.splitlines()[-1])
    assert figures["webhooks_killed_at_accepted"] is not None
    assert figures["webhooks_killed_at_accepted"] < figures["accepted"] == 1500
    assert (figures["lost"], figures["bad_signatures"]) == (0, 0)
