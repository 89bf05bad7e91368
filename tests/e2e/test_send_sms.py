"""A tenant sends SMS through the HTTP API and gets signed receipts, end to end."""

from __future__ import annotations

import aiohttp
import pytest
from standardwebhooks import Webhook

from deploy.local.platform import Platform
from tests.e2e.conftest import TenantCredentials, auth, wait_for_status
from tests.helpers.webhooks import WebhookReceiver

pytestmark = pytest.mark.e2e

DELIVERED = "+447700900000"
UNDELIVERED = "+447700900001"
REFUSED = "+447700900002"
REJECTED = "+447700900003"
# Stands for the tenant's own number in the tables below.
SENDER = "<own number>"


async def send(
    http: aiohttp.ClientSession, creds: TenantCredentials, **fields: object
) -> tuple[int, dict[str, object]]:
    body = {"to": DELIVERED, "from": creds.number, "body": "hello"} | fields
    async with http.post("/v1/messages", json=body, headers=auth(creds)) as r:
        return r.status, await r.json(content_type=None)


async def test_delivered_number_yields_signed_sent_then_delivered_webhooks(
    http: aiohttp.ClientSession, tenant: TenantCredentials, receiver: WebhookReceiver
) -> None:
    status, created = await send(http, tenant, status_callback=receiver.url)
    assert status == 201, created
    assert created["status"] == "queued"
    message_id = str(created["id"])
    await receiver.wait_for(
        lambda r: (
            {x.payload["type"] for x in r.for_message(message_id)}
            >= {"message.sent", "message.delivered"}
        )
    )
    hooks = receiver.for_message(message_id)
    assert [h.payload["type"] for h in hooks] == ["message.sent", "message.delivered"]
    for h in hooks:
        # Verified independently here with the reference library, not only by the receiver.
        Webhook(tenant.webhook_secret).verify(h.body, h.headers)
        assert h.headers["webhook-id"].startswith("evt_")
    assert [h.payload["data"]["sequence"] for h in hooks] == [2, 3]
    final = await wait_for_status(http, tenant, message_id, {"delivered"})
    history = final["status_history"]
    assert [t["status"] for t in history] == ["queued", "sent", "delivered"]  # type: ignore[index, union-attr]
    assert all(t["at"] for t in history)  # type: ignore[index, union-attr]


async def test_a_receivers_cookie_is_never_sent_back(
    http: aiohttp.ClientSession, tenant: TenantCredentials, receiver: WebhookReceiver
) -> None:
    # One sender serves every tenant: a cookie kept from one receiver would
    # go to any other tenant's endpoint on the same host.
    status, created = await send(http, tenant, status_callback=receiver.url_setting_cookie())
    assert status == 201, created
    message_id = str(created["id"])
    await receiver.wait_for(lambda r: len(r.for_message(message_id)) >= 2)
    hooks = receiver.for_message(message_id)
    assert [h.payload["type"] for h in hooks] == ["message.sent", "message.delivered"]
    assert [h.headers.get("cookie") for h in hooks] == [None, None]


async def test_300_char_gsm7_body_is_sent_as_two_segments_and_delivered(
    http: aiohttp.ClientSession, tenant: TenantCredentials
) -> None:
    status, created = await send(http, tenant, body="a" * 300)
    assert status == 201, created
    assert (created["encoding"], created["segments"]) == ("GSM-7", 2)
    await wait_for_status(http, tenant, str(created["id"]), {"delivered"})


async def test_emoji_body_is_ucs2_and_counted_in_utf16_units(
    http: aiohttp.ClientSession, tenant: TenantCredentials
) -> None:
    status, created = await send(http, tenant, body="Hi 👋")
    assert status == 201, created
    assert (created["encoding"], created["segments"]) == ("UCS-2", 1)
    status, created = await send(http, tenant, body="👋" * 36)  # 72 UTF-16 units
    assert (created["encoding"], created["segments"]) == ("UCS-2", 2)
    await wait_for_status(http, tenant, str(created["id"]), {"delivered"})


@pytest.mark.parametrize(
    ("to", "final", "code"),
    [(UNDELIVERED, "undelivered", "001"), (REFUSED, "failed", None), (REJECTED, "failed", "002")],
)
async def test_carrier_outcomes_reach_the_message_status(
    http: aiohttp.ClientSession, tenant: TenantCredentials, to: str, final: str, code: str | None
) -> None:
    status, created = await send(http, tenant, to=to)
    assert status == 201, created
    body = await wait_for_status(http, tenant, str(created["id"]), {final})
    assert body["error_code"]
    if code:
        assert body["error_code"] == code


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"to": "07700900000", "from": SENDER, "body": "x"}, 422, "to"),
        ({"to": "+1234", "from": SENDER, "body": "x"}, 422, "to"),
        ({"to": DELIVERED, "from": SENDER, "body": ""}, 422, "body"),
        ({"to": DELIVERED, "from": SENDER, "body": "x" * 1601}, 422, "body"),
        ({"to": DELIVERED, "from": SENDER, "body": "x", "colour": "red"}, 422, "colour"),
        ({"to": DELIVERED, "body": "x"}, 422, "from"),
        ({"to": DELIVERED, "from": "not a sender!", "body": "x"}, 422, "from"),
        (
            {"to": DELIVERED, "from": SENDER, "body": "x", "status_callback": "ftp://x"},
            422,
            "status_callback",
        ),
        (
            {"to": DELIVERED, "from": SENDER, "body": "x", "status_callback": ""},
            422,
            "status_callback",
        ),
    ],
)
async def test_bad_input_is_a_problem_naming_the_field_and_stores_nothing(
    http: aiohttp.ClientSession,
    tenant: TenantCredentials,
    payload: dict[str, object],
    status: int,
    field: str,
) -> None:
    before = await _count(http, tenant)
    if payload.get("from") == SENDER:
        payload = payload | {"from": tenant.number}
    async with http.post("/v1/messages", json=payload, headers=auth(tenant)) as r:
        assert r.status == status
        assert r.content_type == "application/problem+json"
        problem = await r.json(content_type=None)
    assert problem["status"] == status
    assert problem["type"].startswith("https://omnigate.dev/problems/")
    assert field in problem["detail"]
    assert any(e["field"] == field for e in problem["errors"])
    assert await _count(http, tenant) == before


async def test_malformed_json_and_wrong_content_type_are_problems(
    http: aiohttp.ClientSession, tenant: TenantCredentials
) -> None:
    headers = auth(tenant) | {"Content-Type": "application/json"}
    async with http.post("/v1/messages", data=b'{"to": ', headers=headers) as r:
        assert r.status == 400
        assert "not valid JSON" in (await r.json(content_type=None))["detail"]
    async with http.post("/v1/messages", data=b"[1]", headers=headers) as r:
        assert r.status == 400
    async with http.post(
        "/v1/messages",
        data=b"to=x",
        headers=auth(tenant) | {"Content-Type": "application/x-www-form-urlencoded"},
    ) as r:
        assert r.status == 415


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer og_live_nope"}, {"Authorization": "Basic abc"}],
)
async def test_missing_or_invalid_key_is_401(
    http: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    async with http.post("/v1/messages", json={"to": DELIVERED}, headers=headers) as r:
        assert r.status == 401
        assert r.content_type == "application/problem+json"
        assert (await r.json(content_type=None))["detail"]


async def test_another_tenants_message_is_404(
    http: aiohttp.ClientSession, tenant: TenantCredentials, other_tenant: TenantCredentials
) -> None:
    _, created = await send(http, tenant)
    async with http.get(f"/v1/messages/{created['id']}", headers=auth(other_tenant)) as r:
        assert r.status == 404
    async with http.get("/v1/messages/msg_doesnotexist", headers=auth(tenant)) as r:
        assert r.status == 404


async def test_list_is_cursor_paginated_newest_first(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    from tests.e2e.conftest import create_tenant

    fresh = await create_tenant(platform, "paging")
    ids = []
    for i in range(5):
        _, created = await send(http, fresh, body=f"page {i}")
        ids.append(created["id"])
    seen: list[str] = []
    url = "/v1/messages?page_size=2"
    while url:
        async with http.get(url, headers=auth(fresh)) as r:
            assert r.status == 200
            page = await r.json()
        assert len(page["data"]) <= 2
        seen += [m["id"] for m in page["data"]]
        url = page["next_page_url"]
    assert seen == list(reversed(ids))


async def _count(http: aiohttp.ClientSession, creds: TenantCredentials) -> int:
    total, url = 0, "/v1/messages?page_size=1000"
    while url:
        async with http.get(url, headers=auth(creds)) as r:
            page = await r.json()
        total += len(page["data"])
        url = page["next_page_url"]
    return total


async def test_failing_webhook_is_retried_with_the_same_webhook_id(
    http: aiohttp.ClientSession, tenant: TenantCredentials, receiver: WebhookReceiver
) -> None:
    status, created = await send(http, tenant, status_callback=receiver.url_failing(3))
    assert status == 201, created
    message_id = str(created["id"])

    def delivered_after_retries(r: WebhookReceiver) -> bool:
        return sum(h.payload["type"] == "message.delivered" for h in r.for_message(message_id)) == 4

    await receiver.wait_for(delivered_after_retries, timeout_s=30)
    delivered = [
        h for h in receiver.for_message(message_id) if h.payload["type"] == "message.delivered"
    ]
    assert len({h.headers["webhook-id"] for h in delivered}) == 1
    assert all(h.verified for h in delivered)
    assert receiver.attempts[delivered[0].headers["webhook-id"]] == 4
