"""The server span of every HTTP request, and its request id.

Follows the OpenTelemetry HTTP server conventions; the span's trace is the
trace of the whole request (gRPC, bus, worker and SMPP spans descend from it).
A W3C ``traceparent`` from the caller is honoured.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, StatusCode

_tracer = trace.get_tracer("omnigate.edge")


@web.middleware
async def tracing_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else request.path
    parent = propagate.extract(request.headers)
    with _tracer.start_as_current_span(
        f"{request.method} {route}",
        context=parent,
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": request.method,
            "url.path": request.path,
            "http.route": route,
        },
    ) as span:
        request_id = request.headers.get("X-Request-Id") or "req_" + secrets.token_hex(12)
        response = await handler(request)
        span.set_attribute("http.response.status_code", response.status)
        if response.status >= 500:
            span.set_status(StatusCode.ERROR)
        response.headers["X-Request-Id"] = request_id[:128]
        return response
