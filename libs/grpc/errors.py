"""Domain errors <-> gRPC status with rich details (google.rpc.Status).

The server side turns an ``OmnigateError`` into a status code plus an
``ErrorInfo`` (reason = the error class), ``BadRequest`` field violations and
``RetryInfo`` where they apply; the client side rebuilds the same domain
error, so the HTTP edge maps one error tree, not gRPC codes.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from libs import errors

DOMAIN = "omnigate"

CODES: dict[type[errors.OmnigateError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    # Its own reason in ErrorInfo, so a service relaying an outage relays one.
    errors.Outage: grpc.StatusCode.UNAVAILABLE,
    errors.DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    errors.Internal: grpc.StatusCode.INTERNAL,
}
_BY_NAME = {cls.__name__: cls for cls in CODES}
# A bare UNAVAILABLE reads as the domain's Unavailable, unless nothing answered at all.
_BY_CODE = {code: cls for cls, code in CODES.items() if cls is not errors.Outage}


def to_status_proto(exc: errors.OmnigateError) -> status_pb2.Status:
    """The rich status of a domain error (also carried per item by batch RPCs)."""
    cls = next(c for c in type(exc).__mro__ if c in CODES)
    code = CODES[cls]
    details: list[any_pb2.Any] = []
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=cls.__name__, domain=DOMAIN))
    details.append(info)
    if isinstance(exc, errors.InvalidArgument) and exc.violations:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in exc.violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad)
        details.append(packed)
    if isinstance(exc, errors.ResourceExhausted) and exc.retry_after_s is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(exc.retry_after_s * 1e9))
        packed = any_pb2.Any()
        packed.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        details.append(packed)
    return status_pb2.Status(code=getattr(code_pb2, code.name), message=exc.detail, details=details)


def to_status(exc: errors.OmnigateError) -> grpc.Status:
    return rpc_status.to_status(to_status_proto(exc))


def from_status_proto(status: status_pb2.Status) -> errors.OmnigateError:
    """The domain error a rich status describes."""
    code = grpc.StatusCode.UNKNOWN
    for candidate in grpc.StatusCode:
        if candidate.value[0] == status.code:
            code = candidate
    return _from_parts(code, status.message or code.name.lower(), status)


def from_rpc_error(exc: grpc.aio.AioRpcError) -> errors.OmnigateError:
    """The domain error a failed call carries (transport faults: Unavailable, DeadlineExceeded)."""
    code = exc.code()
    return _from_parts(code, exc.details() or code.name.lower(), rpc_status.from_call(exc))


def _from_parts(
    code: grpc.StatusCode, detail: str, status: status_pb2.Status | None
) -> errors.OmnigateError:
    cls: type[errors.OmnigateError] = _BY_CODE.get(code, errors.Internal)
    violations: list[errors.FieldViolation] = []
    retry_after: float | None = None
    said = False  # whether an Omnigate service said what the error is
    if status is not None:
        for d in status.details:
            if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                d.Unpack(info)
                if info.domain == DOMAIN and info.reason in _BY_NAME:
                    cls, said = _BY_NAME[info.reason], True
            elif d.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                d.Unpack(bad)
                violations += [
                    errors.FieldViolation(v.field, v.description) for v in bad.field_violations
                ]
            elif d.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info_r = error_details_pb2.RetryInfo()
                d.Unpack(info_r)
                retry_after = info_r.retry_delay.ToNanoseconds() / 1e9
    if cls is errors.InvalidArgument:
        return errors.InvalidArgument(detail, tuple(violations))
    if cls is errors.ResourceExhausted:
        return errors.ResourceExhausted(detail, retry_after)
    if cls is errors.Unavailable and not said:
        # No service answered: the channel could not reach one. An outage.
        return errors.Outage(detail)
    return cls(detail)
