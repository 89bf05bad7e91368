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
import grpc

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


# What another service answers when it is away or overloaded rather than refusing.
_TRANSIENT_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)


def is_retryable(exc: BaseException) -> bool:
    """Whether a failure may not happen on a later attempt.

    Domain errors say so themselves (``OmnigateError.retryable``); database,
    broker and network failures, timeouts, and gRPC calls to a service that
    is away are transient.
    """
    flag = getattr(exc, "retryable", None)
    if isinstance(flag, bool):
        return flag
    if isinstance(exc, grpc.aio.AioRpcError):
        return exc.code() in _TRANSIENT_CODES
    return isinstance(exc, _TRANSIENT)


def is_input_fault(exc: BaseException) -> bool:
    """Whether ``exc`` would recur on every attempt with the same input."""
    return not is_retryable(exc)
