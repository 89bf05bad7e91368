"""An SMS to a tenant's number is its inbound message, POSTed signed to the number's sms_url."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest
from standardwebhooks import Webhook

from deploy.local.platform import Platform
from tests.e2e.conftest import TenantCredentials, auth, create_tenant
from tests.helpers.webhooks import WebhookReceiver

pytestmark = pytest.mark.e2e

CUSTOMER = "+447700900555"
LONG = "".join(f"Yes, I can make it at {i} o'clock. " for i in range(10))  # 3 parts of GSM-7


@pytest.fixture
async def replying(
    platform: Platform, http: aiohttp.ClientSession
) -> AsyncIterator[tuple[TenantCredentials, WebhookReceiver]]:
    """A tenant of its own whose number's sms_url is a receiver."""
    tenant = await create_tenant(platform, "inbound")
    receiver = WebhookReceiver(secret=tenant.webhook_secret)
    await receiver.start()
    async with http.get("/v1/numbers", headers=auth(tenant)) as r:
        (number,) = (await r.json())["data"]
    async with http.patch(
        f"/v1/numbers/{number['id']}", json={"sms_url": receiver.url}, headers=auth(tenant)
    ) as r:
        assert r.status == 200
    await _copied(platform, number["id"], receiver.url)
    yield tenant, receiver
    await receiver.stop()


async def _copied(platform: Platform, number_id: str, sms_url: str) -> None:
    """Until the sms service's copy has the number's new sms_url (its number.updated event
    takes milliseconds; an SMS a person sends takes longer)."""
    conn = await asyncpg.connect(platform.config.dsn)
    try:
        for _ in range(100):
            if (
                await conn.fetchval("SELECT sms_url FROM sms.numbers WHERE id = $1", number_id)
                == sms_url
            ):
                return
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise AssertionError("the sms service never learnt the number's sms_url")


async def _mo(platform: Platform, to: str, text: str, **options: Any) -> None:
    url = f"http://127.0.0.1:{platform.config.smsc_control_port}/mo"
    body = {"from": CUSTOMER, "to": to, "text": text} | options
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as r:
        assert r.status == 202, await r.text()


async def test_a_reply_reaches_the_numbers_sms_url_signed_and_is_listed(
    platform: Platform,
    http: aiohttp.ClientSession,
    replying: tuple[TenantCredentials, WebhookReceiver],
) -> None:
    tenant, receiver = replying
    await _mo(platform, tenant.number, "Yes, see you at 5 ✓")
    await receiver.wait_for(lambda r: r.received, timeout_s=20)
    (hook,) = receiver.received
    # What a tenant's own code does with it: verify with a Standard Webhooks library.
    payload = Webhook(tenant.webhook_secret).verify(hook.body, hook.headers)
    assert payload["type"] == "message.received"
    data = payload["data"]
    assert (data["from"], data["to"], data["body"]) == (
        CUSTOMER,
        tenant.number,
        "Yes, see you at 5 ✓",
    )
    assert (data["direction"], data["status"], data["segments"]) == ("inbound", "received", 1)
    async with http.get("/v1/messages?direction=inbound", headers=auth(tenant)) as r:
        assert r.status == 200
        listed = await r.json()
    assert [m["id"] for m in listed["data"]] == [data["id"]]
    async with http.get(f"/v1/messages/{data['id']}", headers=auth(tenant)) as r:
        stored = await r.json()
    assert (stored["direction"], stored["body"]) == ("inbound", "Yes, see you at 5 ✓")
    async with http.get("/v1/messages?direction=outbound", headers=auth(tenant)) as r:
        assert data["id"] not in {m["id"] for m in (await r.json())["data"]}
    async with http.get("/v1/messages?direction=sideways", headers=auth(tenant)) as r:
        assert r.status == 422
    # A page of one: the next page's URL keeps the filter.
    await _mo(platform, tenant.number, "And a second one")
    await receiver.wait_for(lambda r: len(r.received) == 2, timeout_s=20)
    async with http.get("/v1/messages?direction=inbound&page_size=1", headers=auth(tenant)) as r:
        first = await r.json()
    assert first["next_page_url"].endswith("&direction=inbound")
    async with http.get(first["next_page_url"], headers=auth(tenant)) as r:
        rest = await r.json()
    assert [m["id"] for m in first["data"] + rest["data"]] == [
        m.payload["data"]["id"] for m in reversed(receiver.received)
    ]


@pytest.mark.parametrize(
    "options",
    [
        {"concatenation": "udh"},
        {"concatenation": "sar"},
        {"concatenation": "udh", "reverse": True},
        {"concatenation": "payload"},
    ],
    ids=["udh", "sar", "udh-reversed", "message_payload"],
)
async def test_a_long_reply_arrives_as_one_message(
    platform: Platform,
    replying: tuple[TenantCredentials, WebhookReceiver],
    options: dict[str, Any],
) -> None:
    tenant, receiver = replying
    await _mo(platform, tenant.number, LONG, **options)
    await receiver.wait_for(lambda r: r.received, timeout_s=20)
    await asyncio.sleep(0.5)  # a second message, if the parts were not joined, would be in
    (hook,) = receiver.received
    assert hook.verified
    data = hook.payload["data"]
    assert data["body"] == LONG
    assert data["segments"] == 3  # the parts it came in, or would have (message_payload)


async def test_a_reply_to_a_number_nobody_owns_reaches_no_tenant(
    platform: Platform,
    http: aiohttp.ClientSession,
    replying: tuple[TenantCredentials, WebhookReceiver],
) -> None:
    tenant, receiver = replying
    before = await _unowned(platform)
    await _mo(platform, "+447700900998", "anyone?")
    for _ in range(100):
        if await _unowned(platform) > before:
            break
        await asyncio.sleep(0.1)
    assert await _unowned(platform) == before + 1
    async with http.get("/v1/messages?direction=inbound", headers=auth(tenant)) as r:
        assert (await r.json())["data"] == []
    assert receiver.received == []


async def _unowned(platform: Platform) -> float:
    url = platform.metrics_urls()["sms-worker-0"]
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        for line in (await r.text()).splitlines():
            if line.startswith("omnigate_sms_inbound_unowned_total "):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_a_reply_also_reaches_the_endpoints_subscribed_to_it(
    platform: Platform,
    http: aiohttp.ClientSession,
    replying: tuple[TenantCredentials, WebhookReceiver],
) -> None:
    tenant, at_sms_url = replying
    body = {"url": "", "event_types": ["message.received"]}
    endpoint_hooks = WebhookReceiver()
    body["url"] = (await endpoint_hooks.start()).replace("/status", "/endpoint")
    try:
        async with http.post("/v1/webhook_endpoints", json=body, headers=auth(tenant)) as r:
            assert r.status == 201, await r.text()
            endpoint_hooks.secret = (await r.json())["secret"]
        await _mo(platform, tenant.number, "Also to my endpoint")
        await endpoint_hooks.wait_for(lambda r: r.received, timeout_s=20)
        await at_sms_url.wait_for(lambda r: r.received, timeout_s=20)
    finally:
        await endpoint_hooks.stop()
    (hook,) = endpoint_hooks.received
    assert hook.verified  # with the endpoint's own secret
    assert hook.payload["type"] == "message.received"
    assert hook.payload["data"]["body"] == "Also to my endpoint"
    (direct,) = at_sms_url.received
    assert direct.payload["data"]["id"] == hook.payload["data"]["id"]
