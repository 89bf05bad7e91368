"""One robust broker connection per process, with its publisher.

``connect_robust`` reconnects after a broker restart or a network cut and
restores channels, declarations and consumers; what was in flight when the
connection dropped fails (publishes raise, unacked deliveries are redelivered
by the broker), which the callers' at-least-once handling absorbs.
"""

from __future__ import annotations

import logging
from types import TracebackType

import aio_pika
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection
from opentelemetry import trace
from yarl import URL

from libs.bus.config import BusConfig
from libs.bus.publisher import Publisher
from libs.bus.topology import declare_exchanges
from libs.bus.transport import CoalescingTCPTransportFactory

log = logging.getLogger("omnigate.bus")


class Bus:
    """The process's connection (``connection``), settings (``config``) and ``publisher``."""

    def __init__(
        self,
        config: BusConfig,
        connection: AbstractRobustConnection,
        publisher: Publisher,
        tracer: trace.Tracer | None,
    ) -> None:
        self.config = config
        self.connection = connection
        self.publisher = publisher
        self.tracer = tracer

    @classmethod
    async def connect(
        cls, config: BusConfig, *, name: str = "omnigate", tracer: trace.Tracer | None = None
    ) -> Bus:
        """Connect, open the confirm-mode publisher channel and declare the exchanges.

        ``name`` shows in the broker's connection list; ``tracer`` overrides
        the global one (tests).
        """
        url = URL(config.url)
        connection = aio_pika.RobustConnection(url, client_properties={"connection_name": name})
        if url.scheme == "amqp":
            # Not a parameter aio_pika knows, so set where it passes it on to aiormq.
            connection.kwargs["transport_factory"] = CoalescingTCPTransportFactory()
        await connection.connect()
        try:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            exchanges = await declare_exchanges(channel, config.prefix)
        except BaseException:
            await connection.close()
            raise
        log.info("bus connected as %s (prefix %s)", name, config.prefix)
        publisher = Publisher(channel, config, exchanges, tracer=tracer)
        return cls(config, connection, publisher, tracer)

    def connected(self) -> bool:
        """Whether the connection is up now (false while it is being re-established)."""
        return self.connection.connected.is_set()

    async def channel(self) -> AbstractRobustChannel:
        """A new channel, restored on reconnect (each consumer has its own, for its prefetch)."""
        return await self.connection.channel()

    async def close(self) -> None:
        """Close the connection; stop consumers and relays first so they drain."""
        await self.connection.close()

    async def __aenter__(self) -> Bus:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
