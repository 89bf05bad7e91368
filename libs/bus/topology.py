"""Names and declarations of every exchange and queue, all under one prefix.

Exchanges (durable):

- ``<prefix>.events``   topic; facts, routing key ``<service>.<resource>.<event>``.
- ``<prefix>.commands`` direct; work for one service, routing key = the
  logical queue name (``sms.send``). Commands are published mandatory, so
  one that no queue is bound for comes back as an error instead of vanishing.
- ``<prefix>.dlx``      direct; dead letters, routing key = the full queue name.

Queues, for a ``QueueSpec`` named ``sms.send`` (all durable quorum queues):

- ``<prefix>.sms.send``          work queue; ``x-delivery-limit`` and dead-lettering
  to ``<prefix>.dlx`` with its own name as routing key.
- ``<prefix>.sms.send.retry.<n>`` n = 1.. one per retry delay; ``x-message-ttl``
  = the delay, dead-lettering through the default exchange back to the work queue.
- ``<prefix>.sms.send.dlq``      the dead-letter queue, bound to ``<prefix>.dlx``.

Dead-lettering uses quorum queues' ``at-least-once`` strategy (which needs
``x-overflow: reject-publish``), so a message moving between a work, retry
and dead-letter queue is never dropped by a broker restart in between.

Queue arguments cannot change once declared (RabbitMQ refuses a redeclare
with other arguments): changing ``retry_delays_s`` or ``delivery_limit`` of an
existing queue means deleting its queues (after draining) or using a policy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue, FieldValue

from libs.bus.config import BusConfig, validate_delays
from libs.bus.message import COMMANDS, EVENTS

log = logging.getLogger("omnigate.bus")

DLX = "dlx"


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """A queue a service consumes.

    ``name`` is logical (``sms.send``, ``webhooks.events``); ``events`` are
    routing-key patterns bound on the events exchange (``sms.message.*``);
    ``commands`` binds the queue on the commands exchange under its own name.
    ``retry_delays_s``/``delivery_limit`` override the ``BusConfig`` defaults.
    """

    name: str
    events: tuple[str, ...] = ()
    commands: bool = False
    retry_delays_s: tuple[float, ...] | None = None
    delivery_limit: int | None = None

    def __post_init__(self) -> None:
        if not self.name or self.name.startswith(".") or self.name.endswith("."):
            raise ValueError(f"queue name must be a dotted name, got {self.name!r}")
        if self.retry_delays_s is not None:
            validate_delays(self.retry_delays_s)
        if self.delivery_limit is not None and self.delivery_limit < 1:
            raise ValueError("delivery_limit must be at least 1")

    def delays(self, config: BusConfig) -> tuple[float, ...]:
        return config.retry_delays_s if self.retry_delays_s is None else self.retry_delays_s

    def limit(self, config: BusConfig) -> int:
        return config.delivery_limit if self.delivery_limit is None else self.delivery_limit


def exchange_name(prefix: str, logical: str) -> str:
    return f"{prefix}.{logical}"


def queue_name(prefix: str, spec: QueueSpec) -> str:
    return f"{prefix}.{spec.name}"


def retry_queue_name(queue: str, step: int) -> str:
    """The delay queue of retry ``step`` (1-based) of the full queue name ``queue``."""
    return f"{queue}.retry.{step}"


def dlq_name(queue: str) -> str:
    return f"{queue}.dlq"


_QUORUM: dict[str, FieldValue] = {
    "x-queue-type": "quorum",
    "x-dead-letter-strategy": "at-least-once",
    "x-overflow": "reject-publish",
}


async def declare_exchanges(channel: AbstractChannel, prefix: str) -> dict[str, AbstractExchange]:
    """Declare the three exchanges; returns them by logical name."""
    kinds = {
        EVENTS: aio_pika.ExchangeType.TOPIC,
        COMMANDS: aio_pika.ExchangeType.DIRECT,
        DLX: aio_pika.ExchangeType.DIRECT,
    }
    return {
        logical: await channel.declare_exchange(exchange_name(prefix, logical), kind, durable=True)
        for logical, kind in kinds.items()
    }


async def declare_queue(
    channel: AbstractChannel, config: BusConfig, spec: QueueSpec
) -> AbstractQueue:
    """Declare ``spec``'s work, delay and dead-letter queues and bindings; returns the work queue.

    The dead-letter and delay queues are declared first so that nothing the
    work queue dead-letters can ever be routed to a missing queue.
    """
    exchanges = await declare_exchanges(channel, config.prefix)
    name = queue_name(config.prefix, spec)

    dlq = await channel.declare_queue(
        dlq_name(name), durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dlq.bind(exchanges[DLX], routing_key=name)

    for step, delay in enumerate(spec.delays(config), start=1):
        await channel.declare_queue(
            retry_queue_name(name, step),
            durable=True,
            arguments={
                **_QUORUM,
                "x-message-ttl": max(1, round(delay * 1000)),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": name,
            },
        )

    queue = await channel.declare_queue(
        name,
        durable=True,
        arguments={
            **_QUORUM,
            "x-delivery-limit": spec.limit(config),
            "x-dead-letter-exchange": exchange_name(config.prefix, DLX),
            "x-dead-letter-routing-key": name,
        },
    )
    for pattern in spec.events:
        await queue.bind(exchanges[EVENTS], routing_key=pattern)
    if spec.commands:
        await queue.bind(exchanges[COMMANDS], routing_key=spec.name)
    return queue


def topology_names(config: BusConfig, specs: Iterable[QueueSpec]) -> tuple[list[str], list[str]]:
    """(queues, exchanges) that ``declare_queue`` creates for ``specs`` under ``config.prefix``."""
    queues: list[str] = []
    for spec in specs:
        name = queue_name(config.prefix, spec)
        queues.append(name)
        queues.extend(
            retry_queue_name(name, step) for step in range(1, len(spec.delays(config)) + 1)
        )
        queues.append(dlq_name(name))
    exchanges = [exchange_name(config.prefix, x) for x in (EVENTS, COMMANDS, DLX)]
    return queues, exchanges


async def delete_topology(
    channel: AbstractChannel, config: BusConfig, specs: Iterable[QueueSpec]
) -> None:
    """Delete every queue of ``specs`` and the prefix's exchanges, messages included.

    For tests and tear-down of a throw-away prefix; deleting what does not
    exist is not an error.
    """
    queues, exchanges = topology_names(config, specs)
    for q in queues:
        await channel.queue_delete(q)
    for x in exchanges:
        await channel.exchange_delete(x)
    log.info(
        "deleted %d queues and %d exchanges under %s", len(queues), len(exchanges), config.prefix
    )
