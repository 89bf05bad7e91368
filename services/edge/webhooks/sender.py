"""Status webhooks: each status event becomes a signed POST to the message's callback.

Payloads and headers follow the Standard Webhooks specification: body
``{type, timestamp, data}`` with ``type`` like ``message.delivered``;
``webhook-id`` is the bus event's id, so it is the same on every retry and a
receiver can drop duplicates; ``webhook-signature`` is ``v1,`` + HMAC-SHA256
of ``id.timestamp.body`` under the tenant's ``whsec_`` secret, made by the
``standardwebhooks`` reference library. ``data.sequence`` increases with
every transition of the message, so a receiver can order callbacks that
arrive out of order.

A 2xx answer is success; redirects are not followed; anything else (or a
timeout) raises ``DeliveryFailed``, which is retryable: the bus consumer
re-queues the event along the backoff ladder of ``WebhookConfig``, and what
still fails after the last step lands in the dead-letter queue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import aiohttp
import orjson
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from standardwebhooks import Webhook

from libs.api.sms.v1 import events_pb2
from libs.bus.message import Delivery
from libs.errors import FailedPrecondition, OmnigateError
from services.edge.representation import STATUS_NAMES, message_json, rfc3339

log = logging.getLogger("omnigate.edge.webhooks")
_tracer = trace.get_tracer("omnigate.edge.webhooks")

USER_AGENT = "Omnigate-Webhooks/1"

SecretLookup = Callable[[str], Awaitable[str | None]]


class DeliveryFailed(OmnigateError):
    """The receiver did not answer 2xx in time; a later attempt may succeed."""

    retryable = True


def status_payload(event: events_pb2.MessageStatusChanged) -> bytes:
    data = message_json(event.message)
    data.pop("body", None)
    data["sequence"] = event.transition.sequence
    data["error_code"] = event.transition.error_code or None
    data["error_message"] = event.transition.error_message or None
    return orjson.dumps(
        {
            "type": "message." + STATUS_NAMES[event.transition.status],
            "timestamp": rfc3339(event.transition.occurred_at),
            "data": data,
        }
    )


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    return Webhook(secret).sign(webhook_id, datetime.fromtimestamp(timestamp, UTC), body.decode())


class WebhookSender:
    def __init__(
        self, session: aiohttp.ClientSession, secret_of: SecretLookup, timeout_s: float
    ) -> None:
        self._session = session
        self._secret_of = secret_of
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def handle(self, delivery: Delivery) -> None:
        if delivery.type != events_pb2.MessageStatusChanged.DESCRIPTOR.full_name:
            return
        event = events_pb2.MessageStatusChanged.FromString(delivery.body)
        url = event.message.status_callback
        if not url:
            return
        secret = await self._secret_of(event.message.tenant_id)
        if secret is None:
            # A tenant that no longer exists cannot be signed for; retrying won't help.
            raise FailedPrecondition(f"tenant {event.message.tenant_id} has no signing secret")
        await self.post(url, delivery.message_id, secret, status_payload(event))

    async def post(self, url: str, webhook_id: str, secret: str, body: bytes) -> None:
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, webhook_id, timestamp, body),
        }
        with _tracer.start_as_current_span(
            "POST",
            kind=SpanKind.CLIENT,
            attributes={"url.full": url, "http.request.method": "POST"},
        ) as span:
            try:
                async with self._session.post(
                    url, data=body, headers=headers, timeout=self._timeout, allow_redirects=False
                ) as response:
                    await response.read()
                    span.set_attribute("http.response.status_code", response.status)
                    if 200 <= response.status < 300:
                        return
                    if response.status == 410:
                        # The receiver says the endpoint is gone for good.
                        log.warning("webhook endpoint gone (410), not retried: %s", url)
                        return
                    raise DeliveryFailed(f"{url} answered {response.status}")
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise DeliveryFailed(f"{url}: {type(exc).__name__}: {exc}") from exc
