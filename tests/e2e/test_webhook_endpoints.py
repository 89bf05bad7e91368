"""Webhook endpoints as a tenant uses them: filters, retries, attempts, re-send, rotation, SSRF,
and a sender killed mid-attempt."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import aiohttp
import asyncpg
import orjson
import pytest
from standardwebhooks import Webhook

from deploy.local.platform import Platform
from libs.api.events.v1 import events_pb2
from libs.bus.message import ATTEMPT_HEADER, REPUBLISHED_HEADER, TENANT_HEADER
from libs.ids import new_id
from tests.e2e.conftest import TenantCredentials, auth, create_tenant, wait_for_status
from tests.helpers.webhooks import Received, WebhookReceiver

pytestmark = pytest.mark.e2e

DELIVERED = "+447700900000"


@pytest.fixture
async def hooks() -> AsyncIterator[WebhookReceiver]:
    # Its own receiver per test, so attempt counts and bodies never mix. Its
    # secret is a stand-in: each test verifies with its endpoint's secrets.
    receiver = WebhookReceiver(secret="whsec_" + base64.b64encode(b"x" * 24).decode())
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def fresh(platform: Platform) -> TenantCredentials:
    # A tenant of its own: another test's endpoints must not receive this test's events.
    return await create_tenant(platform, "hooks-" + secrets.token_hex(4))


async def call(
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    creds: TenantCredentials,
    body: object = None,
) -> tuple[int, Any]:
    async with http.request(method, path, json=body, headers=auth(creds)) as r:
        return r.status, (await r.json(content_type=None) if r.status != 204 else None)


async def create_endpoint(
    http: aiohttp.ClientSession, creds: TenantCredentials, url: str, types: list[str]
) -> dict[str, Any]:
    status, ep = await call(
        http, "POST", "/v1/webhook_endpoints", creds, {"url": url, "event_types": types}
    )
    assert status == 201, ep
    assert ep["secret"].startswith("whsec_")
    assert ep["id"].startswith("whk_")
    return dict(ep)


async def send(http: aiohttp.ClientSession, creds: TenantCredentials, **fields: object) -> str:
    body = {"to": DELIVERED, "from": creds.number, "body": "hello"} | fields
    async with http.post("/v1/messages", json=body, headers=auth(creds)) as r:
        created = await r.json()
        assert r.status == 201, created
        return str(created["id"])


def of_type(hooks: WebhookReceiver, message_id: str, event_type: str) -> list[Received]:
    return [h for h in hooks.for_message(message_id) if h.payload["type"] == event_type]


async def eventually(check: Any, timeout_s: float = 20.0) -> Any:
    """Poll ``check()`` (async, returns a truthy value when done) until it is done."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.1)


async def deliveries(
    http: aiohttp.ClientSession, creds: TenantCredentials, endpoint_id: str
) -> list[dict[str, Any]]:
    status, page = await call(http, "GET", f"/v1/webhook_endpoints/{endpoint_id}/deliveries", creds)
    assert status == 200, page
    return list(page["data"])


async def test_endpoint_filtered_to_delivered_gets_exactly_the_delivered_event(
    http: aiohttp.ClientSession, fresh: TenantCredentials, hooks: WebhookReceiver
) -> None:
    ep = await create_endpoint(http, fresh, hooks.url, ["message.delivered"])
    message_id = await send(http, fresh)
    await wait_for_status(http, fresh, message_id, {"delivered"})
    await hooks.wait_for(lambda r: of_type(r, message_id, "message.delivered"), timeout_s=20)
    await asyncio.sleep(0.5)  # anything unwanted would have arrived by now
    got = hooks.for_message(message_id)
    assert [h.payload["type"] for h in got] == ["message.delivered"]
    (hook,) = got
    Webhook(ep["secret"]).verify(hook.body, hook.headers)
    assert hook.payload["data"]["sequence"] == 3
    assert set(hook.payload) == {"type", "timestamp", "data"}

    async def succeeded() -> list[dict[str, Any]]:
        found = await deliveries(http, fresh, ep["id"])
        return found if found and found[0]["status"] == "succeeded" else []

    (delivery,) = await eventually(succeeded)
    assert delivery["id"] == hook.headers["webhook-id"]
    assert (delivery["attempts"], delivery["last_response_status_code"]) == (1, 200)
    assert delivery["event_type"] == "message.delivered"
    assert delivery["next_attempt_at"] is None


async def test_failing_endpoint_succeeds_on_the_fourth_attempt_with_one_webhook_id(
    http: aiohttp.ClientSession, fresh: TenantCredentials, hooks: WebhookReceiver
) -> None:
    ep = await create_endpoint(http, fresh, hooks.url_failing(3), ["message.delivered"])
    message_id = await send(http, fresh)
    await hooks.wait_for(lambda r: len(of_type(r, message_id, "message.delivered")) == 4)
    got = of_type(hooks, message_id, "message.delivered")
    assert len({h.headers["webhook-id"] for h in got}) == 1
    for h in got:
        Webhook(ep["secret"]).verify(h.body, h.headers)
    webhook_id = got[0].headers["webhook-id"]
    path = f"/v1/webhook_endpoints/{ep['id']}/deliveries/{webhook_id}/attempts"

    async def four_attempts() -> list[dict[str, Any]]:
        status, page = await call(http, "GET", path, fresh)
        assert status == 200, page
        return list(page["data"]) if len(page["data"]) == 4 else []

    attempts = await eventually(four_attempts)
    assert [a["response_status_code"] for a in attempts] == [500, 500, 500, 200]
    assert all(a["id"].startswith("att_") and a["duration_ms"] >= 0 for a in attempts)
    times = [a["attempted_at"] for a in attempts]
    assert times == sorted(times)
    (delivery,) = await deliveries(http, fresh, ep["id"])
    assert (delivery["status"], delivery["attempts"]) == ("succeeded", 4)


async def test_failed_delivery_can_be_resent_with_the_same_webhook_id(
    http: aiohttp.ClientSession, fresh: TenantCredentials, hooks: WebhookReceiver
) -> None:
    # 1 attempt + 3 retries (the e2e ladder) all fail; the re-send is the 5th: 200.
    ep = await create_endpoint(http, fresh, hooks.url_failing(4), ["message.delivered"])
    message_id = await send(http, fresh)

    async def failed() -> list[dict[str, Any]]:
        found = await deliveries(http, fresh, ep["id"])
        return found if found and found[0]["status"] == "failed" else []

    (delivery,) = await eventually(failed, timeout_s=30)
    assert (delivery["attempts"], delivery["last_response_status_code"]) == (4, 500)
    status, queued = await call(
        http,
        "POST",
        f"/v1/webhook_endpoints/{ep['id']}/deliveries/{delivery['id']}/resend",
        fresh,
    )
    assert status == 202, queued
    assert queued["status"] == "pending"
    await hooks.wait_for(lambda r: len(of_type(r, message_id, "message.delivered")) == 5)
    got = of_type(hooks, message_id, "message.delivered")
    assert {h.headers["webhook-id"] for h in got} == {delivery["id"]}

    async def succeeded() -> list[dict[str, Any]]:
        found = await deliveries(http, fresh, ep["id"])
        return found if found and found[0]["status"] == "succeeded" else []

    (after,) = await eventually(succeeded)
    assert (after["attempts"], after["last_response_status_code"]) == (5, 200)


async def test_rotated_secret_signs_with_both_secrets_during_the_grace_period(
    http: aiohttp.ClientSession, fresh: TenantCredentials, hooks: WebhookReceiver
) -> None:
    ep = await create_endpoint(http, fresh, hooks.url, ["message.sent"])
    status, rotated = await call(
        http, "POST", f"/v1/webhook_endpoints/{ep['id']}/rotate_secret", fresh, {}
    )
    assert status == 200, rotated
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != ep["secret"]
    assert rotated["previous_secret_expires_at"]
    status, shown = await call(http, "GET", f"/v1/webhook_endpoints/{ep['id']}", fresh)
    assert status == 200 and "secret" not in shown
    message_id = await send(http, fresh)
    await hooks.wait_for(lambda r: of_type(r, message_id, "message.sent"), timeout_s=20)
    (hook,) = of_type(hooks, message_id, "message.sent")
    assert len(hook.headers["webhook-signature"].split(" ")) == 2
    # A receiver that knows only one of the two secrets verifies either way.
    Webhook(ep["secret"]).verify(hook.body, hook.headers)
    Webhook(rotated["secret"]).verify(hook.body, hook.headers)


async def test_rotation_without_grace_signs_with_the_new_secret_only(
    http: aiohttp.ClientSession, fresh: TenantCredentials
) -> None:
    ep = await create_endpoint(http, fresh, "http://127.0.0.1:9/x", ["*"])
    status, rotated = await call(
        http,
        "POST",
        f"/v1/webhook_endpoints/{ep['id']}/rotate_secret",
        fresh,
        {"grace_period_s": 0},
    )
    assert status == 200, rotated
    status, problem = await call(
        http,
        "POST",
        f"/v1/webhook_endpoints/{ep['id']}/rotate_secret",
        fresh,
        {"grace_period_s": -1},
    )
    assert status == 422 and problem["errors"][0]["field"] == "grace_period_s"


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/x",
        "http://169.254.169.254/",
        "http://192.168.1.10/hook",
        "http://[::1]/x",
        "http://[::ffff:10.0.0.1]/x",
        "http://0.0.0.0/x",
        "ftp://example.com/x",
        "not a url",
    ],
)
async def test_private_or_odd_urls_are_refused_naming_the_field(
    http: aiohttp.ClientSession, fresh: TenantCredentials, url: str
) -> None:
    status, problem = await call(
        http, "POST", "/v1/webhook_endpoints", fresh, {"url": url, "event_types": ["*"]}
    )
    assert status == 422, problem
    assert problem["type"] == "https://omnigate.dev/problems/validation-error"
    assert [e["field"] for e in problem["errors"]] == ["url"]
    status, page = await call(http, "GET", "/v1/webhook_endpoints", fresh)
    assert page["data"] == []


async def test_status_callback_to_a_private_address_fails_without_retries(
    http: aiohttp.ClientSession, fresh: TenantCredentials, platform: Platform
) -> None:
    url = f"http://10.0.0.1/{secrets.token_hex(6)}"
    message_id = await send(http, fresh, status_callback=url)
    await wait_for_status(http, fresh, message_id, {"delivered"})
    conn = await asyncpg.connect(platform.config.dsn)
    try:

        async def settled() -> list[asyncpg.Record]:
            rows = await conn.fetch(
                "SELECT status, attempts, last_error FROM webhooks.webhook_deliveries"
                " WHERE url = $1",
                url,
            )
            return rows if len(rows) == 2 and all(r["status"] != "pending" for r in rows) else []

        rows = await eventually(settled)
    finally:
        await conn.close()
    assert [(r["status"], r["attempts"]) for r in rows] == [("failed", 1)] * 2
    assert all("private or reserved" in r["last_error"] for r in rows)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://127.0.0.1/x", "event_types": ["message.exploded"]}, "event_types"),
        ({"url": "http://127.0.0.1/x", "event_types": []}, "event_types"),
        ({"url": "http://127.0.0.1/x", "event_types": "*"}, "event_types"),
        ({"url": "http://127.0.0.1/x"}, "event_types"),
        ({"url": "http://127.0.0.1/x", "event_types": ["*"], "colour": "red"}, "colour"),
        ({"url": 5, "event_types": ["*"]}, "url"),
    ],
)
async def test_bad_endpoint_bodies_are_problems_naming_the_field(
    http: aiohttp.ClientSession, fresh: TenantCredentials, body: dict[str, object], field: str
) -> None:
    status, problem = await call(http, "POST", "/v1/webhook_endpoints", fresh, body)
    assert status == 422, problem
    assert field in [e["field"] for e in problem["errors"]]


async def test_endpoints_can_be_listed_page_by_page_updated_and_deleted(
    http: aiohttp.ClientSession, fresh: TenantCredentials
) -> None:
    made = [
        (await create_endpoint(http, fresh, f"http://127.0.0.1:9/{i}", ["*"]))["id"]
        for i in range(3)
    ]
    seen: list[str] = []
    url: str | None = "/v1/webhook_endpoints?page_size=2"
    while url:
        status, page = await call(http, "GET", url, fresh)
        assert status == 200, page
        assert len(page["data"]) <= 2 and all("secret" not in e for e in page["data"])
        seen += [e["id"] for e in page["data"]]
        url = page["next_page_url"]
    assert seen == list(reversed(made))
    path = f"/v1/webhook_endpoints/{made[0]}"
    status, ep = await call(
        http,
        "PATCH",
        path,
        fresh,
        {"disabled": True, "description": "paused", "event_types": ["message.*"]},
    )
    assert status == 200, ep
    assert (ep["disabled"], ep["description"], ep["event_types"]) == (
        True,
        "paused",
        ["message.*"],
    )
    status, problem = await call(http, "PATCH", path, fresh, {"url": "http://10.1.2.3/"})
    assert status == 422 and problem["errors"][0]["field"] == "url"
    status, _ = await call(http, "DELETE", path, fresh)
    assert status == 204
    status, _ = await call(http, "GET", path, fresh)
    assert status == 404


async def test_another_tenants_endpoint_is_404(
    http: aiohttp.ClientSession, fresh: TenantCredentials, other_tenant: TenantCredentials
) -> None:
    ep = await create_endpoint(http, fresh, "http://127.0.0.1:9/x", ["*"])
    base = f"/v1/webhook_endpoints/{ep['id']}"
    for method, path, body in [
        ("GET", base, None),
        ("PATCH", base, {"description": "mine now"}),
        ("DELETE", base, None),
        ("POST", base + "/rotate_secret", {}),
        ("GET", base + "/deliveries", None),
        ("GET", base + "/deliveries/evt_x/attempts", None),
        ("POST", base + "/deliveries/evt_x/resend", None),
    ]:
        status, problem = await call(http, method, path, other_tenant, body)
        assert status == 404, (method, path, problem)
        assert problem["type"] == "https://omnigate.dev/problems/not-found"
    status, page = await call(http, "GET", "/v1/webhook_endpoints", other_tenant)
    assert ep["id"] not in [e["id"] for e in page["data"]]
    status, still = await call(http, "GET", base, fresh)
    assert status == 200 and still["description"] == ""


async def test_webhook_in_flight_when_the_sender_dies_comes_again_with_its_webhook_id(
    http: aiohttp.ClientSession,
    fresh: TenantCredentials,
    hooks: WebhookReceiver,
    platform: Platform,
) -> None:
    ep = await create_endpoint(http, fresh, hooks.url_holding(), ["message.delivered"])
    message_id = await send(http, fresh)
    # The receiver holds the first attempt open while the sender is killed.
    await hooks.wait_for(lambda r: len(of_type(r, message_id, "message.delivered")) == 1)
    await platform.kill("webhooks")
    hooks.release.set()
    await platform.restart("webhooks")
    # The event was never acked: it comes back, and so does the webhook, under the same id.
    await hooks.wait_for(lambda r: len(of_type(r, message_id, "message.delivered")) == 2)
    got = of_type(hooks, message_id, "message.delivered")
    assert len({h.headers["webhook-id"] for h in got}) == 1

    async def recorded() -> list[dict[str, object]]:
        # The edge reaches the restarted service again within moments (503 until then).
        status, page = await call(
            http, "GET", f"/v1/webhook_endpoints/{ep['id']}/deliveries", fresh
        )
        assert status in (200, 503), page
        found = page["data"] if status == 200 else []
        return found if found and found[0]["status"] == "succeeded" else []

    (delivery,) = await eventually(recorded)
    assert delivery["id"] == got[0].headers["webhook-id"]
    assert delivery["attempts"] == 1


async def test_a_receiver_answering_410_fails_its_delivery_and_disables_the_endpoint(
    http: aiohttp.ClientSession, fresh: TenantCredentials, hooks: WebhookReceiver
) -> None:
    ep = await create_endpoint(http, fresh, hooks.url_gone(), ["message.delivered"])
    message_id = await send(http, fresh)
    await hooks.wait_for(lambda r: len(of_type(r, message_id, "message.delivered")) == 1)

    async def disabled() -> dict[str, Any] | None:
        status, found = await call(http, "GET", f"/v1/webhook_endpoints/{ep['id']}", fresh)
        assert status == 200, found
        return found if found["disabled"] else None

    assert await eventually(disabled)
    (delivery,) = await deliveries(http, fresh, ep["id"])
    assert (delivery["status"], delivery["attempts"]) == ("failed", 1)
    assert delivery["last_response_status_code"] == 410
    # Gone is not retried: the one attempt stays the only one.
    await asyncio.sleep(1.0)
    assert len(of_type(hooks, message_id, "message.delivered")) == 1


# As the consumer's retry path re-publishes an event, and as an outbox relay
# publishes again what a dead relay may have published.
@pytest.mark.parametrize("header", [{ATTEMPT_HEADER: 1}, {REPUBLISHED_HEADER: "1"}])
async def test_a_repeated_event_whose_webhook_was_recorded_is_not_sent_again(
    http: aiohttp.ClientSession,
    fresh: TenantCredentials,
    hooks: WebhookReceiver,
    platform: Platform,
    header: dict[str, Any],
) -> None:
    message_id = await send(http, fresh, status_callback=hooks.url)
    await hooks.wait_for(lambda r: len(of_type(r, message_id, "message.delivered")) == 1)
    # A status_callback delivery is named after its event.
    recorded_event = of_type(hooks, message_id, "message.delivered")[0].headers["webhook-id"]
    # The receiver has it before the sender records it (after the attempt): wait for that.
    conn = await asyncpg.connect(platform.config.dsn)
    try:
        assert await eventually(
            lambda: conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM webhooks.webhook_deliveries WHERE id = $1)",
                recorded_event,
            )
        )
    finally:
        await conn.close()
    data = orjson.dumps({"id": message_id, "status": "delivered", "sequence": 3})
    fresh_event = new_id("evt")
    config = platform.config
    async with await aio_pika.connect(config.amqp_url) as connection:
        channel = await connection.channel()
        events = await channel.get_exchange(f"{config.bus_prefix}.events")
        # First the one already delivered and recorded, then (the control) one never seen.
        for event_id in (recorded_event, fresh_event):
            event = events_pb2.Event(
                id=event_id,
                source="/omnigate/sms",
                spec_version="1.0",
                type="message.delivered",
                subject=message_id,
                data_content_type="application/json",
                data=data,
                tenant_id=fresh.tenant_id,
                sequence=3,
                callback_url=hooks.url,
            )
            await events.publish(
                aio_pika.Message(
                    event.SerializeToString(),
                    type=event.DESCRIPTOR.full_name,
                    message_id=event_id,
                    headers={TENANT_HEADER: fresh.tenant_id, **header},
                ),
                routing_key="sms.message.delivered",
            )
    await hooks.wait_for(
        lambda r: any(h.headers["webhook-id"] == fresh_event for h in r.for_message(message_id))
    )
    await asyncio.sleep(0.5)
    ids = [h.headers["webhook-id"] for h in of_type(hooks, message_id, "message.delivered")]
    assert sorted(ids) == sorted([recorded_event, fresh_event])
