"""Killing the sms worker loses nothing; without a crash nothing is submitted twice."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from deploy.local.platform import Platform
from tests.e2e.conftest import FINAL_STATUSES as FINAL
from tests.e2e.conftest import TenantCredentials, send_many, smsc_stats, wait_for_status

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


async def test_killed_worker_loses_no_accepted_message(
    http: aiohttp.ClientSession, tenant: TenantCredentials, platform: Platform
) -> None:
    sending = asyncio.ensure_future(send_many(http, tenant, 400, "crash"))
    await asyncio.sleep(0.3)
    await platform.kill("sms-worker-0")
    ids = await sending
    await platform.restart("sms-worker-0")
    for mid in ids:
        body = await wait_for_status(http, tenant, mid, FINAL, timeout_s=60)
        assert body["status"] == "delivered"


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
