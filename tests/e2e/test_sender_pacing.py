"""Messages over a sender's rate are queued and paced, never refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

import aiohttp
import pytest

from deploy.local.platform import Platform, PlatformConfig
from tests.e2e.conftest import (
    TenantCredentials,
    auth,
    create_tenant,
    running_platform,
    wait_for_status,
)
from tests.helpers.infra import unique_name

pytestmark = pytest.mark.e2e

RATE = 5.0


@pytest.fixture(scope="module")
async def paced() -> AsyncIterator[Platform]:
    config = PlatformConfig.isolated(unique_name("pace"), receipt_delay_s=0.1)
    config.extra_env["OMNIGATE_SMS_WORKER_SENDER_RATE_PER_S"] = str(RATE)
    async with running_platform(config) as platform:
        yield platform


async def test_a_burst_from_one_sender_is_sent_at_the_senders_rate(paced: Platform) -> None:
    creds: TenantCredentials = await create_tenant(paced, "pacing")
    async with aiohttp.ClientSession(base_url=paced.config.edge_url) as http:

        async def send(i: int) -> str:
            body = {"to": "+447700900000", "from": creds.number, "body": f"paced {i}"}
            async with http.post("/v1/messages", json=body, headers=auth(creds)) as r:
                assert r.status == 201  # accepted at once, however fast the sender may go
                return str((await r.json())["id"])

        ids = await asyncio.gather(*(send(i) for i in range(10)))
        finals = [await wait_for_status(http, creds, m, {"delivered"}) for m in ids]
    sent_at = sorted(
        datetime.fromisoformat(t["at"].replace("Z", "+00:00"))  # type: ignore[index]
        for f in finals
        for t in f["status_history"]  # type: ignore[attr-defined]
        if t["status"] == "sent"
    )
    spread = (sent_at[-1] - sent_at[0]).total_seconds()
    # 10 messages at 5/s with a burst of 1: the last goes out ~1.8 s after the first.
    assert spread >= (10 - 1) / RATE * 0.8, f"sent over {spread:.2f} s"
