"""A mobile-originated message (deliver_sm) becomes an sms.message.received event envelope."""

from __future__ import annotations

import asyncio

import aio_pika
import aiohttp
import orjson
import pytest

from deploy.local.platform import Platform
from libs.api.events.v1 import events_pb2

pytestmark = pytest.mark.e2e


async def test_inbound_sms_is_published_as_received_event(platform: Platform) -> None:
    config = platform.config
    connection = await aio_pika.connect(config.amqp_url)
    async with connection:
        channel = await connection.channel()
        events = await channel.get_exchange(f"{config.bus_prefix}.events")
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(events, routing_key="sms.message.received")
        mo = {"from": "+447700900555", "to": "+447700900100", "text": "Yes, see you at 5 ✓"}
        url = f"http://127.0.0.1:{config.smsc_control_port}/mo"
        async with aiohttp.ClientSession() as http, http.post(url, json=mo) as r:
            assert r.status == 202
        message = await _next(queue, timeout_s=20)
    assert message.type == "omnigate.events.v1.Event"
    event = events_pb2.Event.FromString(message.body)
    assert (event.type, event.source, event.channel) == ("message.received", "/omnigate/sms", "sms")
    assert event.id == message.message_id and event.subject.startswith("msg_")
    data = orjson.loads(event.data)
    assert (data["from"], data["to"], data["body"]) == (
        "+447700900555",
        "+447700900100",
        "Yes, see you at 5 ✓",
    )
    assert (data["direction"], data["status"]) == ("inbound", "received")


async def _next(
    queue: aio_pika.abc.AbstractQueue, timeout_s: float
) -> aio_pika.abc.AbstractIncomingMessage:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        message = await queue.get(fail=False)
        if message is not None:
            await message.ack()
            return message
        await asyncio.sleep(0.1)
    raise AssertionError("no sms.message.received event")
