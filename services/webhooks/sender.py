"""Webhooks on the wire: the payload, the signatures, one POST and what came of it.

Payloads and headers follow the Standard Webhooks specification: body
``{type, timestamp, data}`` with the event's ``type`` (``message.delivered``),
its time and its data (the resource as the API shows it) as they are;
``webhook-id`` is the delivery's id, the same on every attempt, so a
receiver can drop duplicates; ``webhook-signature`` is ``v1,`` + HMAC-SHA256
of ``id.timestamp.body`` under each ``whsec_`` secret in force, separated by
spaces (two during a secret rotation), made by the ``standardwebhooks``
reference library. ``data.sequence`` increases with every event of the
resource, so a receiver can order callbacks that arrive out of order.

A 2xx answer is success; redirects are not followed (a 3xx is a failure);
410 means the receiver is gone for good; 429 and 503 may say when to come
back (``Retry-After``). ``post`` never raises for the receiver's sake: it
returns an ``Outcome`` the dispatcher records and schedules from.
"""

from __future__ import annotations

import enum
import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import orjson
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from standardwebhooks import Webhook

from libs.events.envelope import Event
from libs.http import ConnectError, HttpClient, HttpError
from libs.telemetry import start_span
from libs.timestamps import rfc3339_of
from services.webhooks.ssrf import BlockedAddress, Network, UnsafeUrl, check_url_syntax

log = logging.getLogger("omnigate.webhooks")
_tracer = trace.get_tracer("omnigate.webhooks")

USER_AGENT = "Omnigate-Webhooks/1"
# What is kept of a failure's description in the attempts table.
_MAX_ERROR = 500


class Result(enum.Enum):
    SUCCEEDED = "succeeded"
    # Worth trying again later (5xx, 429, timeout, connection refused, 3xx...).
    RETRY = "retry"
    # 410: the receiver says the endpoint is gone; it gets disabled.
    GONE = "gone"
    # Never worth retrying: the URL is not allowed (SSRF guard) or cannot be signed for.
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Outcome:
    result: Result
    attempted_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    # From Retry-After on 429/503: the receiver's own idea of when to retry.
    retry_after_s: float | None = None


def payload(event: Event) -> bytes:
    """The webhook body of an event: its type, its time and, as it is, its data."""
    return orjson.dumps(
        {
            "type": event.type,
            "timestamp": rfc3339_of(event.time),
            "data": orjson.Fragment(event.data),
        }
    )


@functools.lru_cache(maxsize=4096)
def _signer(secret: str) -> Webhook:
    # Decoding the secret is most of what making one costs; a tenant has one or two.
    return Webhook(secret)


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    signature: str = _signer(secret).sign(
        webhook_id, datetime.fromtimestamp(timestamp, UTC), body.decode()
    )
    return signature


def sign_all(secrets: Sequence[str], webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one ``v1,<sig>`` per secret, space-separated."""
    return " ".join(sign(s, webhook_id, timestamp, body) for s in secrets)


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _refused(error: str) -> Outcome:
    return Outcome(Result.REFUSED, datetime.now(UTC), 0, error=error[:_MAX_ERROR])


class WebhookSender:
    """POSTs signed webhooks through one shared client (whose resolver is the SSRF guard).

    The client keeps no cookies: it serves every tenant, so a cookie kept from
    one receiver would reach another tenant's endpoint on the same host.
    """

    def __init__(
        self,
        client: HttpClient,
        timeout_s: float,
        allowed: tuple[Network, ...] = (),
    ) -> None:
        self._client = client
        self._timeout_s = timeout_s
        self._allowed = allowed

    async def post(self, url: str, webhook_id: str, secrets: Sequence[str], body: bytes) -> Outcome:
        try:
            # IP literals never reach the resolver, so they are checked here.
            check_url_syntax(url, self._allowed)
        except UnsafeUrl as exc:
            return _refused(f"url {exc}")
        if not secrets:
            return _refused("no signing secret")
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign_all(secrets, webhook_id, timestamp, body),
        }
        started_at = datetime.now(UTC)
        started = time.monotonic()

        def done(
            result: Result,
            status_code: int | None = None,
            error: str | None = None,
            after: float | None = None,
        ) -> Outcome:
            ms = int((time.monotonic() - started) * 1000)
            return Outcome(result, started_at, ms, status_code, error, after)

        with start_span(
            _tracer,
            "POST",
            kind=SpanKind.CLIENT,
            attributes={"url.full": url, "http.request.method": "POST"},
        ) as span:
            try:
                response = await self._client.post(url, body, headers, timeout_s=self._timeout_s)
            except ConnectError as exc:
                if isinstance(exc.os_error, BlockedAddress):
                    return done(Result.REFUSED, error=f"url {exc.os_error}"[:_MAX_ERROR])
                return done(Result.RETRY, error=f"{type(exc).__name__}: {exc}"[:_MAX_ERROR])
            except (HttpError, OSError) as exc:
                return done(Result.RETRY, error=f"{type(exc).__name__}: {exc}"[:_MAX_ERROR])
            except TimeoutError:
                return done(Result.RETRY, error=f"TimeoutError: no answer in {self._timeout_s} s")
            except ValueError as exc:
                # A URL the syntax check let through but the client cannot use.
                return done(Result.REFUSED, error=f"url {exc}"[:_MAX_ERROR])
            status = response.status
            span.set_attribute("http.response.status_code", status)
            if 200 <= status < 300:
                return done(Result.SUCCEEDED, status_code=status)
            if status == 410:
                log.warning("webhook endpoint gone (410), not retried: %s", url)
                return done(Result.GONE, status_code=status, error="receiver answered 410 Gone")
            after = None
            if status in (429, 503):
                after = retry_after_s(response.headers.get("retry-after"))
            return done(
                Result.RETRY,
                status_code=status,
                error=f"receiver answered {status}",
                after=after,
            )
