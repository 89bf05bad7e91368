"""The webhook dispatcher against the real PostgreSQL: any channel's event, and a clean stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import orjson
import pytest

from libs.bus import EVENTS, Delivery
from libs.events.envelope import ENVELOPE, Event
from libs.http import HttpClient
from libs.ids import new_id
from libs.timestamps import to_proto
from services.webhooks import signing_secrets
from services.webhooks.config import WebhookConfig
from services.webhooks.dispatcher import Dispatcher
from services.webhooks.schema import MIGRATIONS
from services.webhooks.sender import WebhookSender
from services.webhooks.ssrf import guarded_resolver, parse_networks
from tests.helpers.infra import schema_pool
from tests.helpers.webhooks import WebhookReceiver

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
AT = datetime(2026, 12, 3, 10, 40, 46, 123456, tzinfo=UTC)


@pytest.fixture
async def pool(database_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    async with schema_pool(database_dsn, "webhooks", MIGRATIONS) as pool:
        yield pool


async def test_stop_hands_the_listening_connection_back_without_its_listeners(
    pool: asyncpg.Pool,
) -> None:
    # asyncpg warns (an error here: pyproject's filterwarnings) when a
    # connection comes back to the pool still listening.
    async with HttpClient() as client:
        dispatcher = Dispatcher(pool, WebhookSender(client, 1.0), WebhookConfig())
        await dispatcher.start()
        await dispatcher.stop()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0


async def test_an_event_of_a_channel_it_has_never_heard_of_is_delivered_as_it_came(
    pool: asyncpg.Pool,
) -> None:
    """Nothing here knows a channel: a call's event goes out like a message's."""
    async with pool.acquire() as conn:
        secret = await signing_secrets.ensure(conn, "ten_1")
    receiver = WebhookReceiver(secret=secret)
    await receiver.start()
    data = b'{"id":"call_1","object":"call","status":"completed","sequence":4}'
    event = Event(
        id=new_id("evt"), source="/omnigate/voice", spec_version="1.0", type="call.completed",
        subject="call_1", time=to_proto(AT), data_content_type="application/json", data=data,
        tenant_id="ten_1",
        sequence=4, channel="voice", callback_url=receiver.url,
    )  # fmt: skip
    delivery = Delivery(
        event.SerializeToString(), ENVELOPE, event.id, "ten_1", {}, False,
        "voice.call.completed", EVENTS, 0, None,
    )  # fmt: skip
    config = WebhookConfig(allowed_private_networks=("127.0.0.0/8",))
    allowed = parse_networks(config.allowed_private_networks)
    try:
        async with HttpClient(resolve=guarded_resolver(allowed)) as client:
            dispatcher = Dispatcher(pool, WebhookSender(client, 5.0, allowed), config)
            await dispatcher.start()
            try:
                await dispatcher.handle(delivery)
            finally:
                await dispatcher.stop()
    finally:
        await receiver.stop()
    (got,) = receiver.received
    assert got.verified and got.headers["webhook-id"] == event.id
    assert got.payload == {
        "type": "call.completed",
        "timestamp": "2026-12-03T10:40:46.123Z",
        "data": orjson.loads(data),
    }
    status = await pool.fetchval("SELECT status FROM webhook_deliveries WHERE id = $1", event.id)
    assert status == "succeeded"


def test_no_module_of_the_service_reads_a_channels_contract() -> None:
    """What a new channel adds (its proto, its events) needs no code here."""
    channels = {p.name for p in (ROOT / "libs" / "api").iterdir() if p.is_dir()}
    channels -= {"events", "webhooks", "__pycache__"}
    assert channels, "no channel protos found"
    for path in (ROOT / "services" / "webhooks").glob("*.py"):
        text = path.read_text()
        for channel in channels:
            assert f"libs.api.{channel}" not in text, f"{path.name} imports {channel}'s API"


async def test_two_copies_of_an_event_handled_at_once_send_its_webhook_once(
    pool: asyncpg.Pool,
) -> None:
    """After a broker outage the relay publishes unconfirmed events again: the original
    and the copy (marked republished) can be handled at the same moment."""
    async with pool.acquire() as conn:
        secret = await signing_secrets.ensure(conn, "ten_1")
    receiver = WebhookReceiver(secret=secret)
    await receiver.start()
    event = Event(
        id=new_id("evt"), source="/omnigate/sms", spec_version="1.0", type="message.sent",
        subject="msg_1", time=to_proto(AT), data_content_type="application/json",
        data=b'{"id":"msg_1","status":"sent"}', tenant_id="ten_1", sequence=2, channel="sms",
        callback_url=receiver.url_holding(),
    )  # fmt: skip

    def copy(republished: bool) -> Delivery:
        return Delivery(
            event.SerializeToString(), ENVELOPE, event.id, "ten_1", {}, False,
            "sms.message.sent", EVENTS, 0, None, republished=republished,
        )  # fmt: skip

    config = WebhookConfig(allowed_private_networks=("127.0.0.0/8",))
    allowed = parse_networks(config.allowed_private_networks)
    try:
        async with HttpClient(resolve=guarded_resolver(allowed)) as client:
            dispatcher = Dispatcher(pool, WebhookSender(client, 5.0, allowed), config)
            await dispatcher.start()
            try:
                # The receiver holds the first POST, so the first copy is still being sent
                # when the second is handled.
                first = asyncio.ensure_future(dispatcher.handle(copy(False)))
                await receiver.wait_for(lambda r: r.received, timeout_s=10)
                await dispatcher.handle(copy(True))
                receiver.release.set()
                await first
            finally:
                await dispatcher.stop()
    finally:
        await receiver.stop()
    assert len(receiver.received) == 1
