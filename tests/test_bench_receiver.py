"""The benchmark's webhook receiver: every signature checked, every webhook noted and answered."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import orjson
from standardwebhooks import Webhook

from libs.http import HttpClient
from loadtests.receiver import BenchReceiver
from tests.helpers.webhooks import Received

SECRET = "whsec_" + base64.b64encode(b"s" * 24).decode()
OTHER = "whsec_" + base64.b64encode(b"o" * 24).decode()


def signed(secret: str, webhook_id: str, body: bytes) -> dict[str, str]:
    now = int(time.time())
    signature = Webhook(secret).sign(webhook_id, datetime.fromtimestamp(now, UTC), body.decode())
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(now),
        "webhook-signature": signature,
    }


async def test_verifies_every_webhook_and_answers_each() -> None:
    got: list[Received] = []
    receiver = BenchReceiver(got.append)
    receiver.secret = SECRET
    bodies = [
        orjson.dumps({"type": "message.delivered", "data": {"id": f"m{i}"}}) for i in range(3)
    ]
    url = await receiver.start()
    try:
        async with HttpClient() as client:
            for i, body in enumerate(bodies):
                secret = OTHER if i == 1 else SECRET
                r = await client.post(url, body, signed(secret, f"evt_{i}", body), timeout_s=5)
                assert r.status == 200
    finally:
        await receiver.stop()
    assert [g.payload["data"]["id"] for g in got] == ["m0", "m1", "m2"]
    assert [g.verified for g in got] == [True, False, True]
    assert receiver.bad_signatures == 1
