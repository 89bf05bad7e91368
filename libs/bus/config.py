"""Settings of the bus client. Load with ``libs.config.load(BusConfig, "OMNIGATE_BUS_")``."""

from __future__ import annotations

import re
from dataclasses import dataclass

# RabbitMQ names are free-form, but keeping the prefix to a dotted identifier
# means every derived name is safe in logs, policies and management URLs.
_PREFIX = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,100}$")


@dataclass(frozen=True, slots=True)
class BusConfig:
    """Where the broker is and how this process uses it.

    ``prefix`` starts every exchange and queue name, so that test runs (and a
    second platform on the same broker) never see each other's traffic.
    ``retry_delays_s`` is the backoff ladder of a retryable failure: one delay
    queue per step, then the dead-letter queue. ``delivery_limit`` caps broker
    redeliveries (a consumer that crashes on a message over and over), after
    which the quorum queue dead-letters it.
    """

    url: str = "amqp://guest:guest@127.0.0.1:5672/"
    prefix: str = "omnigate"
    prefetch: int = 200
    publish_timeout_s: float = 10.0
    retry_delays_s: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0)
    delivery_limit: int = 20

    def __post_init__(self) -> None:
        if not self.url.startswith(("amqp://", "amqps://")):
            raise ValueError(f"url must be an amqp:// or amqps:// URL, got {self.url!r}")
        if not _PREFIX.match(self.prefix):
            raise ValueError(f"prefix must match {_PREFIX.pattern}, got {self.prefix!r}")
        if not 1 <= self.prefetch <= 65535:
            raise ValueError("prefetch must be between 1 and 65535")
        if self.publish_timeout_s <= 0:
            raise ValueError("publish_timeout_s must be positive")
        validate_delays(self.retry_delays_s)
        if self.delivery_limit < 1:
            raise ValueError("delivery_limit must be at least 1")


def validate_delays(delays: tuple[float, ...]) -> None:
    """Delays become per-queue message TTLs in whole milliseconds, so each must be >= 1 ms."""
    if len(delays) > 20:
        raise ValueError("at most 20 retry delays (each is a queue)")
    for d in delays:
        if not 0.001 <= d <= 86400 * 7:
            raise ValueError(f"retry delay {d!r} s must be between 1 ms and 7 days")
