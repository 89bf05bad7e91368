"""Publishing with publisher confirms, many in flight at once.

Awaiting each confirm before the next publish caps a channel at about one
broker round trip per message (~1,500 msg/s here); ``publish_many`` puts the
whole batch on the wire and awaits every confirm together (~13,000 msg/s).
It raises if any message was nacked, returned as unroutable, or not
confirmed in time, after every other confirm has settled, so the caller
knows the whole batch's fate (and retries it whole: consumers dedupe).

Publishes go to aiormq's channel directly, without waiting for each frame
to be written (``wait=False``): aio-pika's ``Exchange.publish`` waits, under
the channel's lock, so a batch left one frame at a time, a system call and
several task switches each. The confirms are still awaited, every one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractExchange
from opentelemetry import trace
from prometheus_client import Counter

from libs.aio import gather_outcomes
from libs.bus import tracing
from libs.bus.config import BusConfig
from libs.bus.message import CONTENT_TYPE, TENANT_HEADER, OutgoingMessage
from libs.bus.topology import exchange_name
from libs.errors import Unavailable

log = logging.getLogger("omnigate.bus")

# Confirmed publishes of this process: the hot path's budget test counts them.
PUBLISHED = Counter("omnigate_bus_published_total", "Messages published and confirmed")
PERSISTENT = int(aio_pika.DeliveryMode.PERSISTENT)


class PublishFailed(Unavailable):
    """Some messages were not confirmed by the broker; ``failures`` maps message id to cause.

    Retryable: the broker may have stored some of them (a lost confirm is not
    a refusal), so a retry can duplicate, which consumers tolerate.
    """

    def __init__(self, detail: str, failures: Mapping[str, BaseException]) -> None:
        super().__init__(detail)
        self.failures = dict(failures)


class Publisher:
    """Publishes on one confirm-mode channel whose returns raise (for mandatory publishes)."""

    def __init__(
        self,
        channel: AbstractChannel,
        config: BusConfig,
        exchanges: Mapping[str, AbstractExchange],
        *,
        tracer: trace.Tracer | None = None,
        max_in_flight: int = 2000,
    ) -> None:
        self._channel = channel
        self._config = config
        self._tracer = tracer
        # Published to by name on aiormq's channel; the declared ones, to refuse a typo.
        self._exchanges = {exchange_name(config.prefix, k) for k in exchanges}
        # Bounds the memory of one huge publish_many, not its throughput:
        # past a few hundred in flight the broker is the limit anyway.
        self._in_flight = asyncio.Semaphore(max_in_flight)

    async def publish(self, message: OutgoingMessage) -> None:
        """Publish one message and wait for its confirm."""
        await self.publish_many([message])

    async def publish_many(self, messages: Sequence[OutgoingMessage]) -> None:
        """Publish all ``messages`` with their confirms in flight together; raise if any failed."""
        if not messages:
            return
        channel = await self._underlay()
        # One deadline for the batch, not a timer per message (13 % of a
        # publish's CPU here): they are all in flight together anyway.
        try:
            async with asyncio.timeout(self._config.publish_timeout_s):
                results = await gather_outcomes(*(self._publish_one(channel, m) for m in messages))
        except TimeoutError:
            late = TimeoutError(f"not all confirmed within {self._config.publish_timeout_s} s")
            results = [late] * len(messages)
        failures: dict[str, BaseException] = {}
        for message, result in zip(messages, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result  # cancellation and the like are not publish failures
                failures[message.message_id] = result
        if failures:
            first_id, first = next(iter(failures.items()))
            raise PublishFailed(
                f"{len(failures)} of {len(messages)} messages not confirmed"
                f" (first {first_id}: {type(first).__name__}: {first})",
                failures,
            )

    async def publish_raw(
        self, exchange: str, routing_key: str, message: aio_pika.Message, *, mandatory: bool
    ) -> None:
        """Publish a prepared message to a full exchange name ("" = default); raise if unconfirmed.

        For the consumer's retry and dead-letter paths, which re-publish a
        received message unchanged apart from a few headers.
        """
        if exchange and exchange not in self._exchanges:
            raise KeyError(f"exchange {exchange!r} was not declared")
        async with asyncio.timeout(self._config.publish_timeout_s):
            await self._send(
                await self._underlay(),
                exchange,
                routing_key,
                message.body,
                message.properties,
                mandatory,
                message.message_id,
            )

    async def _underlay(self) -> aiormq.Channel:
        # The concrete channel: its abstract type does not declare ``wait``.
        return cast(aiormq.Channel, await self._channel.get_underlay_channel())

    async def _publish_one(self, channel: aiormq.Channel, message: OutgoingMessage) -> None:
        exchange = exchange_name(self._config.prefix, message.exchange)
        tracer = tracing.resolve_tracer(self._tracer)
        if tracer is None:
            # Not traced here: trace headers it was given travel on unread.
            await self._send_message(channel, exchange, message, dict(message.headers))
            return
        with tracer.start_as_current_span(
            f"{message.routing_key} publish",
            context=tracing.stored_context(message.headers),
            kind=trace.SpanKind.PRODUCER,
            attributes=tracing.publish_attributes(
                exchange, message.routing_key, message.message_id
            ),
        ):
            # The stored context was the parent; the published one is this span.
            headers = tracing.without_trace_headers(message.headers)
            tracing.capture(headers)
            await self._send_message(channel, exchange, message, headers)

    async def _send_message(
        self,
        channel: aiormq.Channel,
        exchange: str,
        message: OutgoingMessage,
        headers: dict[str, Any],
    ) -> None:
        headers[TENANT_HEADER] = message.tenant_id
        properties = aiormq.spec.Basic.Properties(
            content_type=CONTENT_TYPE,
            delivery_mode=PERSISTENT,
            message_type=message.type,
            message_id=message.message_id,
            timestamp=message.timestamp or datetime.now(UTC),
            headers=headers,
        )
        await self._send(
            channel,
            exchange,
            message.routing_key,
            message.body,
            properties,
            message.mandatory,
            message.message_id,
        )

    async def _send(
        self,
        channel: aiormq.Channel,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: aiormq.spec.Basic.Properties,
        mandatory: bool,
        message_id: str | None,
    ) -> None:
        async with self._in_flight:
            # The channel is opened with on_return_raises, so an unroutable
            # mandatory message raises PublishError and a nack DeliveryError.
            result = await channel.basic_publish(
                body,
                exchange=exchange,
                routing_key=routing_key,
                properties=properties,
                mandatory=mandatory,
                wait=False,  # no timeout either: the caller bounds the wait
            )
        self._confirmed(message_id, result)

    @staticmethod
    def _confirmed(message_id: str | None, result: object) -> None:
        # Nacks and returns raise in aiormq; anything else but an ack is a bug.
        if not isinstance(result, aiormq.spec.Basic.Ack):  # pragma: no cover - defensive
            raise RuntimeError(f"publish of {message_id} not acked: {result!r}")
        PUBLISHED.inc()
