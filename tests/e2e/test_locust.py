"""The Locust scenarios (issue 10) drive the platform's send-and-poll path without failures."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import orjson
import pytest

from deploy.local.platform import ROOT, Platform
from tests.e2e.conftest import TenantCredentials

pytestmark = pytest.mark.e2e


async def test_locust_scenarios_send_poll_and_list_without_failures(
    platform: Platform, tenant: TenantCredentials, tmp_path: Path
) -> None:
    stats_file = tmp_path / "locust.json"
    locust = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--headless",
        "--users", "5", "--spawn-rate", "5", "--run-time", "4s", "--only-summary",
        "--host", f"http://127.0.0.1:{platform.config.edge_port}",
        "--json-file", str(tmp_path / "locust"),
        cwd=ROOT,
        env=os.environ | {"OMNIGATE_API_KEY": tenant.api_key, "OMNIGATE_FROM": tenant.number},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(locust.communicate(), 60)
    assert locust.returncode == 0, err.decode()[-2000:]
    stats = {s["name"]: s for s in orjson.loads(stats_file.read_bytes())}
    assert stats["POST /v1/messages"]["num_requests"] > 0
    assert sum(s["num_failures"] for s in stats.values()) == 0
    assert {"GET /v1/messages/{id}", "GET /v1/messages"} <= stats.keys()
