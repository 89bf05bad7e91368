"""The broker connection of every service is cut mid-load: nothing accepted is lost.

Each process reaches RabbitMQ through a TCP proxy that resets every
connection and refuses new ones for a while. Accepting goes on meanwhile
(it needs only PostgreSQL: the outbox holds the commands), and once the
line is back every message is submitted once and reaches its final status.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from deploy.local.platform import Platform, PlatformConfig
from tests.e2e.conftest import (
    FINAL_STATUSES,
    create_tenant,
    running_platform,
    send_many,
    smsc_stats,
    through,
    wait_for_status,
)
from tests.helpers.infra import unique_name
from tests.helpers.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def cut_platform(broker_proxy: TcpProxy, run_dir: Path) -> AsyncIterator[Platform]:
    config = PlatformConfig.isolated(
        unique_name("cut"),
        receipt_delay_s=0.2,
        amqp_url=through(broker_proxy),
        log_dir=str(run_dir / "logs-broker-cut"),
    )
    async with running_platform(config) as running:
        yield running


async def test_cut_broker_connections_lose_nothing_and_submit_nothing_twice(
    cut_platform: Platform, broker_proxy: TcpProxy
) -> None:
    proxy = broker_proxy
    tenant = await create_tenant(cut_platform, "cut")
    before = await smsc_stats(cut_platform)
    async with aiohttp.ClientSession(base_url=cut_platform.config.edge_url) as http:
        connected = proxy.connections
        sending = asyncio.ensure_future(send_many(http, tenant, 300, "cut"))
        await asyncio.sleep(0.3)
        proxy.cut()
        await asyncio.sleep(1.5)  # every reconnect attempt refused meanwhile
        proxy.restore()
        ids = await sending
        for mid in ids:
            body = await wait_for_status(http, tenant, mid, FINAL_STATUSES, timeout_s=60)
            assert body["status"] == "delivered"
    # Every process that held a connection (sms, its worker, webhooks) made a new one.
    assert proxy.connections >= 2 * connected >= 6
    after = await smsc_stats(cut_platform)
    assert after["duplicate_submits"] == before["duplicate_submits"]
    assert after["submits"] - before["submits"] == len(ids)
