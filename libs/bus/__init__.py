"""The bus client every service uses: RabbitMQ via aio-pika, with a transactional outbox.

- ``Bus.connect(config)``: one robust connection per process and its ``Publisher``
  (confirms on every publish, many in flight at once).
- ``Consumer`` / ``BatchConsumer``: manual acks after the handler, retries
  through delay queues, dead-letter queue; drain on ``stop()``.
- ``add_to_outbox`` + ``OutboxRelay``: publish what a transaction committed, and only that.
- ``first_time`` / ``first_time_many``: idempotent consumers.

Naming, retry and dead-letter scheme: see ``libs.bus.topology``.
"""

from libs.bus.batch import BatchConsumer, BatchHandler
from libs.bus.config import BusConfig
from libs.bus.connection import Bus
from libs.bus.consumer import BaseConsumer, Consumer, Handler
from libs.bus.idempotency import first_time, first_time_many, prune_processed
from libs.bus.message import COMMANDS, EVENTS, Delivery, OutgoingMessage
from libs.bus.outbox import (
    OUTBOX_MIGRATIONS,
    OutboxRelay,
    OutboxWriter,
    Written,
    add_to_outbox,
    outbox_insert,
)
from libs.bus.publisher import Publisher, PublishFailed
from libs.bus.topology import (
    QueueSpec,
    declare_queue,
    delete_topology,
    dlq_name,
    exchange_name,
    queue_name,
    retry_queue_name,
    topology_names,
)
from libs.faults import is_retryable

__all__ = [
    "COMMANDS",
    "EVENTS",
    "OUTBOX_MIGRATIONS",
    "BaseConsumer",
    "BatchConsumer",
    "BatchHandler",
    "Bus",
    "BusConfig",
    "Consumer",
    "Delivery",
    "Handler",
    "OutboxRelay",
    "OutboxWriter",
    "OutgoingMessage",
    "PublishFailed",
    "Publisher",
    "QueueSpec",
    "Written",
    "add_to_outbox",
    "declare_queue",
    "delete_topology",
    "dlq_name",
    "exchange_name",
    "first_time",
    "first_time_many",
    "is_retryable",
    "outbox_insert",
    "prune_processed",
    "queue_name",
    "retry_queue_name",
    "topology_names",
]
