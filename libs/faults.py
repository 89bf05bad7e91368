"""Which failures are the input's fault and which are the infrastructure's.

A retry can only help with the second kind: a database, broker or network
failure, a timeout, or a domain error that says so (``retryable``). The
first kind (bad input, a constraint, a bug) fails again the same way, so
retrying it only delays the verdict, and a batch it was part of should be
split to find the item at fault instead.
"""

from __future__ import annotations

import aiormq
import asyncpg

# Failures of the infrastructure rather than of the message: trying again later may help.
_TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,  # includes ConnectionError and aiormq's connection errors
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.TooManyConnectionsError,
    asyncpg.CannotConnectNowError,
    aiormq.AMQPConnectionError,
    aiormq.ChannelInvalidStateError,
)


def is_retryable(exc: BaseException) -> bool:
    """Whether a failure may not happen on a later attempt.

    Domain errors say so themselves (``OmnigateError.retryable``); database,
    broker and network failures and timeouts are transient.
    """
    flag = getattr(exc, "retryable", None)
    if isinstance(flag, bool):
        return flag
    return isinstance(exc, _TRANSIENT)


def is_input_fault(exc: BaseException) -> bool:
    """Whether ``exc`` would recur on every attempt with the same input."""
    return not is_retryable(exc)
