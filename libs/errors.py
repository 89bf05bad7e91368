"""The domain error tree shared by every service.

Services raise these; they are mapped to a transport exactly once at each
edge: to a gRPC status (with rich details) by the server interceptor in
``libs.grpc.errors``, and from gRPC to RFC 9457 problem+json by the HTTP
edge's middleware. ``retryable`` tells a caller (or a bus consumer deciding
between requeue and dead-letter) whether trying again may help.

    OmnigateError
     ├── InvalidArgument        bad input; carries field violations
     ├── NotFound               absent, or another tenant's (never a 403)
     ├── AlreadyExists
     ├── FailedPrecondition     the resource's state forbids the operation
     ├── Unauthenticated
     ├── PermissionDenied
     ├── ResourceExhausted      rate or quota exceeded (retryable)
     ├── Unavailable            try again later (retryable)
     │    └── Outage            a dependency is away: wait for it (libs.faults)
     ├── DeadlineExceeded       ran out of time (retryable)
     └── Internal               a bug; never retried automatically
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldViolation:
    field: str
    description: str


class OmnigateError(Exception):
    """Base of every domain error. ``retryable``: whether a retry may succeed."""

    retryable: bool = False

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidArgument(OmnigateError):
    def __init__(self, detail: str, violations: tuple[FieldViolation, ...] = ()) -> None:
        super().__init__(detail)
        self.violations = violations

    @classmethod
    def for_field(cls, field: str, description: str) -> InvalidArgument:
        return cls(f"{field}: {description}", (FieldViolation(field, description),))


class NotFound(OmnigateError):
    pass


class AlreadyExists(OmnigateError):
    pass


class FailedPrecondition(OmnigateError):
    pass


class Unauthenticated(OmnigateError):
    pass


class PermissionDenied(OmnigateError):
    pass


class ResourceExhausted(OmnigateError):
    retryable = True

    def __init__(self, detail: str, retry_after_s: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class Unavailable(OmnigateError):
    retryable = True


class Outage(Unavailable):
    """A dependency is away (the carrier's bind is down, a peer service unreachable):
    wait for it, then try again, spending no retry (``libs.faults.outlast``)."""


class DeadlineExceeded(OmnigateError):
    retryable = True


class Internal(OmnigateError):
    pass
