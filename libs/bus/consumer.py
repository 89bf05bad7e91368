"""Consuming a queue with manual acks, retries with backoff and dead-lettering.

Every delivery is settled in exactly one place, ``_settle``, after its
handler returned or raised (the habit of aio-pika's ``message.process()``):

- handler returned            -> ack (the handler has committed its work),
  coalesced with others into multiple-acks (``libs.bus.acks``);
- raised an outage            -> not settled yet: the handler is called again,
  with a capped backoff, until the dependency is back (``libs.faults``); an
  outage spends no retry and dead-letters nothing;
- raised a retryable error    -> re-published, with a confirm, to the next
  delay queue ``<queue>.retry.<n>``, then acked; after the last delay the
  message is dead-lettered instead;
- raised anything else        -> a copy saying why (``x-omnigate-last-error``)
  goes to ``<queue>.dlq``, with a confirm, then the message is acked;
- cancelled (shutdown), or stopping while waiting out an outage -> not
  settled: the broker redelivers it when the channel closes, and the quorum
  queue's delivery limit dead-letters a message that keeps killing its
  consumer.

Retrying through delay queues (rather than requeueing) keeps a failing
message from spinning hot and from blocking the ones behind it.

Deliveries are taken from aiormq's channel directly: aio-pika's consumer
wraps each one in a message object and a second task, about 200,000 CPU
instructions a delivery (measured with callgrind), some 40 % of consuming
one. The channel, its QoS and the queue's declaration stay aio-pika's
robust ones, which come back after a reconnect; the consumer then
registers itself again (``reopen_callbacks``).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Any, cast

import aio_pika
import aiormq
from aio_pika.abc import AbstractRobustChannel
from aiormq.abc import DeliveredMessage
from opentelemetry import trace

from libs.bus import tracing
from libs.bus.acks import ChannelAcks
from libs.bus.connection import Bus
from libs.bus.message import (
    ATTEMPT_HEADER,
    CONTENT_TYPE,
    ERROR_HEADER,
    EXCHANGE_HEADER,
    REPUBLISHED_HEADER,
    ROUTING_KEY_HEADER,
    TENANT_HEADER,
    Delivery,
)
from libs.bus.topology import QueueSpec, declare_queue, dlq_name, queue_name, retry_queue_name
from libs.faults import GaveUp, Waiting, is_retryable, outlast
from libs.telemetry import NOT_RECORDING

log = logging.getLogger("omnigate.bus")

Handler = Callable[[Delivery], Awaitable[None]]


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _attempt(value: Any) -> int:
    # A malformed header must not leave the message unsettled: count it as a first try.
    try:
        return max(0, int(_text(value) or 0))
    except ValueError:
        return 0


def to_delivery(message: DeliveredMessage, traced: bool = True) -> Delivery:
    """The handler's view of ``message``; its trace context is read only if ``traced``."""
    properties = message.header.properties
    headers = dict(properties.headers or {})
    timestamp = properties.timestamp
    if timestamp is not None and timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=UTC)
    return Delivery(
        body=message.body,
        type=properties.message_type or "",
        message_id=properties.message_id or "",
        tenant_id=_text(headers.get(TENANT_HEADER)),
        headers=headers,
        redelivered=bool(getattr(message.delivery, "redelivered", False)),
        routing_key=_text(headers.get(ROUTING_KEY_HEADER)) or message.routing_key or "",
        exchange=_text(headers.get(EXCHANGE_HEADER)) or message.exchange or "",
        attempt=_attempt(headers.get(ATTEMPT_HEADER)),
        timestamp=timestamp,
        trace_context=tracing.stored_context(headers) if traced else None,
        republished=REPUBLISHED_HEADER in headers,
    )


class BaseConsumer(ABC):
    """Queue declaration, consume/stop lifecycle and settlement shared by the consumers."""

    def __init__(
        self,
        bus: Bus,
        spec: QueueSpec,
        *,
        prefetch: int | None = None,
        tracer: trace.Tracer | None = None,
        stop_timeout_s: float = 30.0,
    ) -> None:
        self._bus = bus
        self._config = bus.config
        self._spec = spec
        self._prefetch = prefetch or bus.config.prefetch
        self._tracer = tracer if tracer is not None else bus.tracer
        self._stop_timeout_s = stop_timeout_s
        self.queue = queue_name(bus.config.prefix, spec)
        self._delays = spec.delays(bus.config)
        self._channel: AbstractRobustChannel | None = None
        # The aiormq channel consumed on, and the consumer's tag there.
        self._underlay: aiormq.Channel | None = None
        self._tag: str | None = None
        # Acks of the channel consumed on, coalesced (libs.bus.acks).
        self._acks: ChannelAcks | None = None
        self._stopping = False
        self._recovery: asyncio.Task[None] | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        # Handlers waiting out an outage, logged once for all of them.
        self._waiting = Waiting(f"{self.queue}: handler")

    async def start(self) -> None:
        """Declare the queue and its retry/dead-letter queues and start consuming."""
        self._stopping = False
        channel = await self._bus.channel()
        self._channel = channel
        await channel.set_qos(prefetch_count=self._prefetch)
        await declare_queue(channel, self._config, self._spec)
        await self._consume()
        channel.reopen_callbacks.add(self._on_reopen)
        log.info("consuming %s (prefetch %d)", self.queue, self._prefetch)

    async def _consume(self) -> None:
        assert self._channel is not None
        underlay = cast(aiormq.Channel, await self._channel.get_underlay_channel())
        if underlay is self._underlay and self._tag in underlay.consumers:
            return  # already consuming on this channel
        # aiormq runs each delivery in a task of its own: handlers overlap up to the prefetch.
        ok = await underlay.basic_consume(self.queue, self._on_message)
        underlay.on_consumer_cancel_callbacks.add(self._on_broker_cancel)
        if underlay is not self._underlay:
            self._acks = ChannelAcks(underlay)
        self._underlay, self._tag = underlay, ok.consumer_tag

    async def _on_reopen(self, _channel: object) -> None:
        # The robust channel is back (reconnected), its queue declared again.
        if not self._stopping:
            await self._consume()
            log.info("consuming %s again", self.queue)

    def _on_broker_cancel(self, frame: aiormq.spec.Basic.Cancel) -> None:
        # The broker ended the consumer (its queue was deleted, or moved to
        # another node). Called from the channel's frame reader, which must go
        # on reading the answers: the consumer comes back in a task of its own.
        if frame.consumer_tag == self._tag and not self._stopping:
            log.warning("%s: the broker cancelled the consumer; consuming again", self.queue)
            self._tag = None
            self._recovery = asyncio.create_task(self._consume_again())

    async def _consume_again(self) -> None:
        # The channel is still open: declaring the queue (and its bindings) is
        # a no-op if it still exists, and brings it back if it was deleted.
        try:
            assert self._channel is not None
            await declare_queue(self._channel, self._config, self._spec)
            await self._consume()
        except Exception:  # the channel closes, and its restore consumes again
            log.exception("%s: could not consume again", self.queue)

    async def stop(self) -> None:
        """Stop taking messages, let those in hand finish and settle, then close the channel.

        What is still unsettled after ``stop_timeout_s`` is left to the broker,
        which redelivers it once the channel closes.
        """
        self._stopping = True
        if self._recovery is not None:
            self._recovery.cancel()
            await asyncio.gather(self._recovery, return_exceptions=True)
        if self._underlay is not None and self._tag is not None:
            try:
                await self._underlay.basic_cancel(self._tag)
            except Exception:
                log.warning("cancelling the consumer of %s failed", self.queue, exc_info=True)
            self._tag = None
        await self._before_drain()
        try:
            await asyncio.wait_for(self._idle.wait(), self._stop_timeout_s)
        except TimeoutError:
            log.warning(
                "%s: %d messages still in hand after %.0f s; the broker will redeliver them",
                self.queue,
                self._in_flight,
                self._stop_timeout_s,
            )
        if self._acks is not None:
            # Before the channel closes, or what was handled would be redelivered.
            await self._acks.close()
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()
        self._channel = self._underlay = self._acks = None
        log.info("stopped consuming %s", self.queue)

    async def __aenter__(self) -> BaseConsumer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @abstractmethod
    async def _on_message(self, message: DeliveredMessage) -> None: ...

    async def _before_drain(self) -> None:  # noqa: B027 - optional hook
        """Hook: hand over anything buffered before ``stop`` waits for idleness."""

    def _taken(self, n: int = 1) -> None:
        self._in_flight += n
        self._idle.clear()

    def _released(self, n: int = 1) -> None:
        self._in_flight -= n
        if self._in_flight == 0:
            self._idle.set()

    @property
    def _traced(self) -> bool:
        return tracing.resolve_tracer(self._tracer) is not None

    def _span(
        self,
        name_context: Any,
        message_id: str | None,
        routing_key: str,
        links: list[trace.Link] | None = None,
    ) -> Any:
        tracer = tracing.resolve_tracer(self._tracer)
        if tracer is None:
            return NOT_RECORDING
        return tracer.start_as_current_span(
            f"{self.queue} process",
            context=name_context,
            kind=trace.SpanKind.CONSUMER,
            attributes=tracing.process_attributes(self.queue, routing_key, message_id),
            links=links,
            record_exception=False,
            set_status_on_exception=False,
        )

    async def _settle(
        self, message: DeliveredMessage, delivery: Delivery, error: Exception | None
    ) -> None:
        """The one place a delivery is acked, retried or dead-lettered."""
        mid = delivery.message_id
        extra = {"message_id": mid, "queue": self.queue}
        # Settled on the channel it came on: after a reconnect that one is
        # closed, and the broker has already put the message back.
        channel, tag = message.channel, message.delivery_tag
        assert tag is not None
        acks = self._acks if self._acks is not None and self._acks.channel is channel else None
        try:
            if error is None:
                await self._ack(acks, channel, tag)
                return
            if is_retryable(error) and delivery.attempt < len(self._delays):
                step = delivery.attempt + 1
                await self._bus.publisher.publish_raw(
                    "",
                    retry_queue_name(self.queue, step),
                    self._retry_message(message, delivery, error),
                    mandatory=True,
                )
                await self._ack(acks, channel, tag)
                log.warning(
                    "%s: message %s failed (%s: %s); retry %d in %.3g s",
                    self.queue,
                    mid,
                    type(error).__name__,
                    error,
                    step,
                    self._delays[step - 1],
                    extra=extra,
                )
                return
            reason = "retries exhausted" if is_retryable(error) else "not retryable"
            log.error(
                "%s: message %s dead-lettered (%s): %s: %s",
                self.queue,
                mid,
                reason,
                type(error).__name__,
                error,
                extra=extra,
            )
            # A copy that says why, for the operator who lists dead letters
            # (libs.bus.deadletters); the broker's own dead-lettering cannot.
            dead = self._retry_message(message, delivery, error)
            await self._bus.publisher.publish_raw("", dlq_name(self.queue), dead, mandatory=True)
            await self._ack(acks, channel, tag)
        except Exception:
            # The channel is gone or the retry could not be stored: give it
            # back to the broker (if the channel still works) for redelivery.
            log.exception("%s: could not settle message %s", self.queue, mid, extra=extra)
            if not channel.is_closed:
                try:
                    await channel.basic_nack(tag, requeue=True)
                    if acks is not None:
                        acks.settled_elsewhere(tag)
                except Exception:  # noqa: BLE001 - closing the channel requeues it anyway
                    log.debug("nack of %s failed too; the broker will redeliver", mid)

    @staticmethod
    async def _ack(acks: ChannelAcks | None, channel: aiormq.abc.AbstractChannel, tag: int) -> None:
        if acks is not None:
            acks.ack(tag)
        else:
            # A channel since replaced (reconnected): this most likely fails, and
            # the broker has put the message back already.
            await channel.basic_ack(tag)

    @staticmethod
    def _retry_message(
        message: DeliveredMessage, delivery: Delivery, error: Exception
    ) -> aio_pika.Message:
        # Broker-owned headers (x-death, x-delivery-count, ...) describe the
        # old message's life; the copy starts fresh apart from our own.
        headers: dict[str, Any] = {
            k: v
            for k, v in delivery.headers.items()
            if not k.startswith("x-") or k.startswith("x-omnigate-")
        }
        headers[ATTEMPT_HEADER] = delivery.attempt + 1
        headers[ROUTING_KEY_HEADER] = delivery.routing_key
        headers[EXCHANGE_HEADER] = delivery.exchange
        headers[ERROR_HEADER] = f"{type(error).__name__}: {error}"[:500]
        properties = message.header.properties
        return aio_pika.Message(
            message.body,
            content_type=properties.content_type or CONTENT_TYPE,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            type=properties.message_type,
            message_id=properties.message_id,
            timestamp=properties.timestamp,
            correlation_id=properties.correlation_id,
            reply_to=properties.reply_to,
            headers=headers,
        )


class Consumer(BaseConsumer):
    """Calls ``handler`` once per message, up to ``prefetch`` handlers concurrently.

    The handler commits its work (idempotently: see ``libs.bus.idempotency``)
    and returns; the message is acked after that. It runs inside a CONSUMER
    span that is a child of the publisher's span.
    """

    def __init__(self, bus: Bus, spec: QueueSpec, handler: Handler, **kw: Any) -> None:
        super().__init__(bus, spec, **kw)
        self._handler = handler

    async def _on_message(self, message: DeliveredMessage) -> None:
        self._taken()
        try:
            delivery = to_delivery(message, self._traced)
            with self._span(
                delivery.trace_context, delivery.message_id, delivery.routing_key
            ) as span:
                error: Exception | None = None
                try:
                    await outlast(
                        lambda: self._handler(delivery),
                        self._waiting,
                        stopping=lambda: self._stopping,
                    )
                except GaveUp:
                    return  # stopping: the broker redelivers it once the channel closes
                except Exception as exc:  # noqa: BLE001 - any failure is settled below
                    error = exc
                    span.record_exception(exc)
                    span.set_status(trace.Status(trace.StatusCode.ERROR, str(exc)))
                await self._settle(message, delivery, error)
        finally:
            self._released()
