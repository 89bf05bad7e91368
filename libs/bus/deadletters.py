"""What an operator does with dead letters: list them, and replay them once mended.

A queue's dead letters (``<queue>.dlq``) are the messages its consumer
could not handle and no retry could mend: poison, or a bug since fixed.
``dead_letters`` reads them without losing any: each one read is put back
at the tail of the dead-letter queue (a fresh copy, then the original is
acked), so listing never spends a quorum queue's delivery limit; listing
fewer than are there moves those to the back. ``replay`` sends the chosen
ones back to the work queue as first attempts (the consumer's retry budget
starts again) and keeps the others.

Both are at least once: a tool that dies between the copy and the ack
leaves a message twice, which the idempotent consumer handles once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from libs.bus.config import BusConfig
from libs.bus.connection import Bus
from libs.bus.message import (
    ATTEMPT_HEADER,
    CONTENT_TYPE,
    ERROR_HEADER,
    EXCHANGE_HEADER,
    ROUTING_KEY_HEADER,
    TENANT_HEADER,
)
from libs.bus.topology import dlq_name


@dataclass(frozen=True, slots=True)
class DeadLetter:
    message_id: str
    type: str
    tenant_id: str
    routing_key: str
    # Why it was dead-lettered, as the consumer last saw it.
    error: str
    # How many times the consumer tried it.
    attempts: int
    published_at: datetime | None
    size: int

    def as_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "type": self.type,
            "tenant_id": self.tenant_id,
            "routing_key": self.routing_key,
            "error": self.error,
            "attempts": self.attempts,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "size": self.size,
        }


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _first_death(message: AbstractIncomingMessage) -> dict[str, Any]:
    """The broker's record of the first time it dead-lettered the message (x-death)."""
    deaths: Any = (message.headers or {}).get("x-death") or []
    return dict(deaths[-1]) if isinstance(deaths, list) and deaths else {}


def _read(message: AbstractIncomingMessage) -> DeadLetter:
    headers = message.headers or {}
    death = _first_death(message)
    keys = death.get("routing-keys") or [""]
    return DeadLetter(
        message_id=message.message_id or "",
        type=message.type or "",
        tenant_id=_text(headers.get(TENANT_HEADER)),
        routing_key=_text(headers.get(ROUTING_KEY_HEADER)) or _text(keys[0]),
        error=_text(headers.get(ERROR_HEADER)) or _text(death.get("reason")),
        attempts=int(_text(headers.get(ATTEMPT_HEADER)) or 0),
        published_at=message.timestamp,
        size=len(message.body),
    )


def _copy(message: AbstractIncomingMessage, headers: dict[str, Any]) -> aio_pika.Message:
    return aio_pika.Message(
        message.body,
        content_type=message.content_type or CONTENT_TYPE,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        type=message.type,
        message_id=message.message_id,
        timestamp=message.timestamp,
        correlation_id=message.correlation_id,
        headers=headers,
    )


def _as_first_attempt(message: AbstractIncomingMessage) -> dict[str, Any]:
    """The headers a replayed message starts again with: ours, the attempt count reset."""
    death = _first_death(message)
    headers = {
        k: v
        for k, v in (message.headers or {}).items()
        if k.startswith("x-omnigate-") or not k.startswith("x-")
    }
    headers.pop(ERROR_HEADER, None)
    headers[ATTEMPT_HEADER] = 0
    headers.setdefault(ROUTING_KEY_HEADER, _text((death.get("routing-keys") or [""])[0]))
    headers.setdefault(EXCHANGE_HEADER, _text(death.get("exchange")))
    return headers


async def _cycle(
    bus: Bus, queue: str, limit: int | None, chosen: Callable[[DeadLetter], bool]
) -> tuple[list[DeadLetter], list[DeadLetter]]:
    """Reads the dead letters of ``queue`` (a full name), each once: the chosen are sent
    back to ``queue``, the others to the dead-letter queue's tail. (kept, replayed)."""
    dlq = dlq_name(queue)
    channel = await bus.channel()
    try:
        declared = await channel.declare_queue(dlq, passive=True)
        count = declared.declaration_result.message_count or 0
        kept: list[DeadLetter] = []
        replayed: list[DeadLetter] = []
        for _ in range(count if limit is None else min(count, limit)):
            message = await declared.get(no_ack=False, fail=False)
            if message is None:
                break
            letter = _read(message)
            if chosen(letter):
                copy, to = _copy(message, _as_first_attempt(message)), queue
                replayed.append(letter)
            else:
                copy, to = _copy(message, dict(message.headers or {})), dlq
                kept.append(letter)
            await bus.publisher.publish_raw("", to, copy, mandatory=True)
            await message.ack()
        return kept, replayed
    finally:
        await channel.close()


async def dead_letters(config: BusConfig, queue: str, limit: int | None = None) -> list[DeadLetter]:
    """The dead letters of the logical queue ``queue`` (``sms.submit``), oldest first."""
    async with await Bus.connect(config, name="dead-letters") as bus:
        kept, _ = await _cycle(bus, f"{config.prefix}.{queue}", limit, lambda _: False)
    return kept


async def replay(
    config: BusConfig, queue: str, message_ids: Collection[str] | None = None
) -> list[DeadLetter]:
    """Send the dead letters ``message_ids`` (None: all) back to ``queue``; what was sent."""
    wanted = None if message_ids is None else set(message_ids)
    async with await Bus.connect(config, name="dead-letters") as bus:
        _, replayed = await _cycle(
            bus,
            f"{config.prefix}.{queue}",
            None,
            lambda d: wanted is None or d.message_id in wanted,
        )
    return replayed
