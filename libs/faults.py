"""Which failures are the input's fault, which a dependency's, and how to outlast the latter.

A retry can only help with a failure that is not the input's: a database,
broker, cache, carrier or peer service that is away (an *outage*), a
timeout, a serialization conflict, or a domain error that says so
(``retryable``). The input's failures (bad input, a constraint, a bug)
fail again the same way: retrying them only delays the verdict, and a
batch they were part of should be split to find the item at fault instead.

An outage is waited out, not counted against anything: ``outlast`` calls
again, with a capped backoff, for as long as the dependency is away, so a
restart of PostgreSQL, RabbitMQ, Redis or the SMSC costs latency and never
a message's retry budget (which is for failures that may repeat forever).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiormq
import asyncpg
import grpc
import redis.exceptions

from libs.errors import Internal, Outage, Unavailable
from libs.smpp.errors import SmppConnectionError

log = logging.getLogger("omnigate.faults")

T = TypeVar("T")


# A dependency away: connecting fails, a connection dropped, the server is
# shutting down or starting up, or it does not answer in time.
_OUTAGES: tuple[type[BaseException], ...] = (
    Outage,
    OSError,  # includes ConnectionError and aiormq's connection errors
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    # What asyncpg raises on a connection that broke in the middle of an
    # operation ("cannot switch to state 12; another operation is in
    # progress"), seen when PostgreSQL restarts under load.
    asyncpg.InternalClientError,
    # 57xxx: admin or crash shutdown, cannot connect now (starting up), canceled.
    asyncpg.OperatorInterventionError,
    asyncpg.TooManyConnectionsError,
    aiormq.AMQPConnectionError,
    aiormq.ChannelInvalidStateError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    SmppConnectionError,  # the bind is down, or a response did not come in time
)
# Failures that may not happen again, though nothing was away.
_TRANSIENT: tuple[type[BaseException], ...] = (
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)
# What another service answers when it is away or overloaded rather than refusing.
_OUTAGE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says a dependency is away (or too slow), rather than anything else."""
    if isinstance(exc, grpc.aio.AioRpcError):
        return exc.code() in _OUTAGE_CODES
    if isinstance(exc, Unavailable) and not isinstance(exc, Outage):
        # A domain "try later" (a message another attempt holds, say): not an outage.
        return False
    return isinstance(exc, _OUTAGES)


def is_retryable(exc: BaseException) -> bool:
    """Whether a failure may not happen on a later attempt.

    Domain errors say so themselves (``OmnigateError.retryable``); outages,
    serialization conflicts and deadlocks are transient, and so is a gRPC
    call to a service that is away or overloaded.
    """
    flag = getattr(exc, "retryable", None)
    if isinstance(flag, bool):
        return flag
    if isinstance(exc, grpc.aio.AioRpcError):
        return exc.code() in _OUTAGE_CODES | {grpc.StatusCode.RESOURCE_EXHAUSTED}
    return isinstance(exc, _OUTAGES + _TRANSIENT)


def is_input_fault(exc: BaseException) -> bool:
    """Whether ``exc`` would recur on every attempt with the same input."""
    return not is_retryable(exc)


def unexpected(exc: BaseException) -> Unavailable | Internal:
    """The domain error to answer for a failure that is none: an outage is a retryable
    UNAVAILABLE (a 503 at the edge), anything else a bug (INTERNAL)."""
    if is_outage(exc):
        return Unavailable("a dependency of the service is unavailable; retry")
    return Internal("internal error")


class GaveUp(Outage):
    """``outlast`` stopped waiting because its caller is stopping; ``__cause__`` says why.
    Still an outage: whoever catches it leaves the work to be done again, not failed."""


class Waiting:
    """Everyone waiting out one dependency under one name: the outage is logged once
    when the first starts waiting and once when the last is through, not per waiter."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.count = 0
        self._since = 0.0

    def began(self, exc: BaseException) -> None:
        if self.count == 0:
            self._since = time.monotonic()
            name = type(exc).__name__
            log.warning("%s: %s: %s; waiting for it to come back", self.what, name, exc)
        self.count += 1

    def ended(self) -> None:
        self.count -= 1
        if self.count == 0:
            log.warning("%s: back after %.1f s", self.what, time.monotonic() - self._since)


# The first wait after an outage is noticed, and the longest between tries.
FIRST_WAIT_S = 0.2
LONGEST_WAIT_S = 2.0


async def outlast(
    attempt: Callable[[], Awaitable[T]],
    waiting: Waiting,
    *,
    stopping: Callable[[], bool] = lambda: False,
    first_wait_s: float = FIRST_WAIT_S,
) -> T:
    """``attempt()``'s result, calling it again while it fails with an outage.

    Waits double from ``first_wait_s`` up to ``LONGEST_WAIT_S``. Any other
    failure is raised at once. Raises ``GaveUp`` if ``stopping()`` turns
    true while waiting: the caller leaves its work to be done again
    elsewhere (a bus message goes back to the broker).
    """
    wait, waited = first_wait_s, False
    try:
        while True:
            try:
                return await attempt()
            except Exception as exc:
                if not is_outage(exc):
                    raise
                if not waited:
                    waited = True
                    waiting.began(exc)
                if stopping():
                    raise GaveUp(waiting.what) from exc
                # Jittered, so that many waiters do not knock at once.
                await asyncio.sleep(wait * random.uniform(0.8, 1.2))
                wait = min(wait * 2, LONGEST_WAIT_S)
    finally:
        if waited:
            waiting.ended()
