"""A guard against per-message work creeping into the hot path, by counting, not timing.

Messages are sent one at a time, so no micro-batch ever holds more than one;
receipts come, and the next message leaves, later than the outbox relay's
deletes and the webhook records gather (0.2 s, 0.05 s), so no two events
share one either: the counts are the worst case per message. The budget is documented in
docs/performance.md; a change that adds a database round trip or a publish
per message fails here, however fast the machine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from deploy.local.platform import Platform, PlatformConfig
from tests.e2e.conftest import auth, create_tenant, running_platform
from tests.helpers.infra import unique_name
from tests.helpers.webhooks import WebhookReceiver

pytestmark = pytest.mark.e2e

N = 40
FINAL = {"message.delivered", "message.undelivered", "message.failed"}

# Per accepted message, worst case (batches of one), all processes together.
# Keep in step with docs/performance.md ("Hot-path budget").
DB_STATEMENTS_PER_MESSAGE = 17  # sms 2, sms worker 13, webhooks 2 (two webhooks)
PUBLISHES_PER_MESSAGE = 3  # the submit command, sms.message.sent, sms.message.delivered
# Longer than the outbox relay's deletes and the webhook records gather.
SPACING_S = 0.3
# Well below one: a single added round trip per message fails the test (the idle
# subtraction leaves the figure about 0.5 under the exact count).
TOLERANCE = 0.4


@pytest.fixture(scope="module")
async def platform() -> AsyncIterator[Platform]:
    config = PlatformConfig.isolated(unique_name("budget"), receipt_delay_s=0.3)
    async with running_platform(config) as running:
        yield running


async def test_db_round_trips_and_publishes_per_message_stay_within_budget(
    platform: Platform,
) -> None:
    creds = await create_tenant(platform, "budget")
    receiver = WebhookReceiver(secret=creds.webhook_secret)
    callback = await receiver.start()
    finals: set[str] = set()
    receiver.on_receive = lambda hook: (
        finals.add(hook.payload["data"]["id"]) if hook.payload["type"] in FINAL else None
    )
    try:
        async with aiohttp.ClientSession(base_url=platform.config.edge_url) as http:

            async def send(i: int) -> None:
                body = {"to": "+447700900000", "from": creds.number, "body": f"b {i}",
                        "status_callback": callback}  # fmt: skip
                async with http.post("/v1/messages", json=body, headers=auth(creds)) as r:
                    assert r.status == 201

            await send(-1)  # warm up: caches, prepared statements, connections
            await _until(lambda: len(finals) == 1)
            # What the pollers (outbox, webhook retries) cost while nothing happens,
            # subtracted below so that a slower machine does not read as more work.
            idle_start, idle_t0 = await platform.work_counts(), time.monotonic()
            await asyncio.sleep(2)
            idle_end, idle_s = await platform.work_counts(), time.monotonic() - idle_t0
            before, t0 = await platform.work_counts(), time.monotonic()
            for i in range(N):
                await send(i)
                await _until(lambda i=i: len(finals) == i + 2)
                await asyncio.sleep(SPACING_S)
            after, elapsed = await platform.work_counts(), time.monotonic() - t0
    finally:
        await receiver.stop()
    per = {}
    for name in after:
        idle = (idle_end[name][0] - idle_start[name][0]) / idle_s * elapsed
        db_n = after[name][0] - before[name][0] - idle
        per[name] = (db_n / N, (after[name][1] - before[name][1]) / N)
    db = sum(d for d, _ in per.values())
    published = sum(p for _, p in per.values())
    detail = ", ".join(f"{n}: {d:.1f}/{p:.1f}" for n, (d, p) in per.items())
    print(f"\nper message: {db:.2f} statements, {published:.2f} publishes ({detail})")
    assert db <= DB_STATEMENTS_PER_MESSAGE + TOLERANCE, detail
    assert published <= PUBLISHES_PER_MESSAGE + TOLERANCE, detail


async def _until(predicate: object, timeout_s: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.005)
