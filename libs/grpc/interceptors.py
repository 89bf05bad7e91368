"""Server and client interceptors: tracing, deadlines and the one place errors are mapped.

Trace context travels in gRPC metadata (W3C ``traceparent``), so handlers
never thread it by hand. Spans follow the OpenTelemetry RPC conventions:
name ``<package.Service>/<Method>``, attributes ``rpc.system``,
``rpc.service``, ``rpc.method``, ``rpc.grpc.status_code``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, StatusCode

from libs import errors
from libs.faults import unexpected
from libs.grpc.errors import to_status
from libs.telemetry import tracing_on

log = logging.getLogger("omnigate.grpc")
_tracer = trace.get_tracer("omnigate.grpc")


def _rpc_attributes(method: str) -> dict[str, str]:
    service, _, name = method.lstrip("/").partition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}


class ServerInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Opens the server span and maps domain errors to a rich gRPC status."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method: str = handler_call_details.method
        inner = handler.unary_unary

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if not tracing_on():
                return await _answer(method, inner, request, context, trace.INVALID_SPAN)
            carrier = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
            parent = propagate.extract(carrier)
            with _tracer.start_as_current_span(
                method.lstrip("/"),
                context=parent,
                kind=SpanKind.SERVER,
                attributes=_rpc_attributes(method),
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                return await _answer(method, inner, request, context, span)

        return grpc.unary_unary_rpc_method_handler(
            unary_unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


async def _answer(
    method: str,
    inner: Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]],
    request: Any,
    context: grpc.aio.ServicerContext,
    span: trace.Span,
) -> Any:
    """The servicer's answer, its domain errors mapped to a rich status."""
    try:
        return await inner(request, context)
    except errors.OmnigateError as exc:
        status = to_status(exc)
        span.set_attribute("rpc.grpc.status_code", status.code.value[0])
        if not isinstance(exc, errors.InvalidArgument | errors.NotFound):
            log.warning("%s failed: %s", method, exc.detail)
        await context.abort_with_status(status)
    except (grpc.aio.AbortError, grpc.aio.AioRpcError):
        raise
    except Exception as exc:
        span.record_exception(exc)
        span.set_status(StatusCode.ERROR)
        answer = unexpected(exc)
        if isinstance(answer, errors.Unavailable):
            log.warning("%s failed: %s: %s", method, type(exc).__name__, exc)
        else:
            log.exception("%s crashed", method)
        await context.abort_with_status(to_status(answer))


class ClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Opens the client span, injects trace context and sets a deadline on every call."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        details = client_call_details
        timeout = details.timeout or self._timeout_s
        if not tracing_on():
            if details.timeout is None:
                details = grpc.aio.ClientCallDetails(
                    details.method,
                    timeout,
                    details.metadata,
                    details.credentials,
                    details.wait_for_ready,
                )
            return await continuation(details, request)
        method = details.method
        method_name = method.decode() if isinstance(method, bytes) else method
        with _tracer.start_as_current_span(
            method_name.lstrip("/"),
            kind=SpanKind.CLIENT,
            attributes=_rpc_attributes(method_name),
            record_exception=False,
            set_status_on_exception=False,
        ):
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            metadata = list(details.metadata or ()) + list(carrier.items())
            details = grpc.aio.ClientCallDetails(
                method=details.method,
                timeout=timeout,
                metadata=grpc.aio.Metadata(*metadata),
                credentials=details.credentials,
                wait_for_ready=details.wait_for_ready,
            )
            call = await continuation(details, request)
            # Awaiting here keeps the span open for the whole call.
            await call
            return call
