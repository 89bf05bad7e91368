"""Killing the sms worker loses nothing and resubmits at most its batches in flight;
without a crash nothing is submitted twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from deploy.local.platform import Platform, PlatformConfig
from services.sms.events import MAX_PER_COMMAND
from tests.e2e.conftest import FINAL_STATUSES as FINAL
from tests.e2e.conftest import (
    TenantCredentials,
    create_tenant,
    running_platform,
    send_many,
    smsc_stats,
    wait_for_status,
)
from tests.helpers.infra import unique_name

pytestmark = pytest.mark.e2e


async def test_normal_flow_submits_nothing_twice(
    http: aiohttp.ClientSession, tenant: TenantCredentials, platform: Platform
) -> None:
    before = await smsc_stats(platform)
    ids = await send_many(http, tenant, 100, "normal")
    for mid in ids:
        await wait_for_status(http, tenant, mid, FINAL)
    after = await smsc_stats(platform)
    assert after["duplicate_submits"] == before["duplicate_submits"]


async def test_sigterm_drains_the_worker_without_loss_or_duplicates(
    http: aiohttp.ClientSession, tenant: TenantCredentials, platform: Platform
) -> None:
    before = await smsc_stats(platform)
    sending = asyncio.ensure_future(send_many(http, tenant, 200, "drain"))
    await asyncio.sleep(0.2)
    worker = platform.process("sms-worker-0")
    worker.terminate()
    assert await asyncio.wait_for(worker.wait(), 30) == 0
    ids = await sending
    await platform.restart("sms-worker-0")
    for mid in ids:
        assert (await wait_for_status(http, tenant, mid, FINAL, timeout_s=60))[
            "status"
        ] == "delivered"
    after = await smsc_stats(platform)
    assert after["duplicate_submits"] == before["duplicate_submits"]


async def test_killed_worker_loses_nothing_and_resubmits_at_most_its_batches_in_flight(
    run_dir: Path,
) -> None:
    """The at-least-once window (docs/architecture.md): after a SIGKILL every accepted
    message is delivered, and only those the worker had claimed in its batches in
    flight may reach the SMSC twice."""
    batch_size, batches = 10, 2
    config = PlatformConfig.isolated(
        unique_name("window"), receipt_delay_s=0.2, log_dir=str(run_dir / "logs-window")
    )
    config.extra_env["OMNIGATE_SMS_WORKER_BATCH_SIZE"] = str(batch_size)
    config.extra_env["OMNIGATE_SMS_WORKER_BATCH_CONCURRENCY"] = str(batches)
    async with running_platform(config) as platform:
        tenant = await create_tenant(platform, "window")
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{config.edge_port}") as http:
            before = await smsc_stats(platform)
            sending = asyncio.ensure_future(send_many(http, tenant, 600, "window"))
            await asyncio.sleep(0.3)
            await platform.kill("sms-worker-0")
            ids = await sending
            await platform.restart("sms-worker-0")
            for mid in ids:
                body = await wait_for_status(http, tenant, mid, FINAL, timeout_s=60)
                assert body["status"] == "delivered"
            after = await smsc_stats(platform)
    # A command is never split, so a batch holds up to the larger of the two.
    window = batches * max(batch_size, MAX_PER_COMMAND)
    assert after["duplicate_submits"] - before["duplicate_submits"] <= window
