"""The server span of every HTTP request, and its request id.

Follows the OpenTelemetry HTTP server conventions; the span's trace is the
trace of the whole request (gRPC, bus, worker and SMPP spans descend from it).
A W3C ``traceparent`` from the caller is honoured.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, StatusCode

from libs.logs import request_id_var
from libs.telemetry import tracing_on

_tracer = trace.get_tracer("omnigate.edge")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@web.middleware
async def tracing_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    request_id = _request_id(request.headers.get("X-Request-Id"))
    request_id_var.set(request_id)
    if tracing_on():
        response = await _traced(request, handler, request_id)
    else:
        response = await handler(request)
    response.headers["X-Request-Id"] = request_id
    return response


async def _traced(
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    request_id: str,
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
            "http.request.header.x-request-id": request_id,
        },
    ) as span:
        response = await handler(request)
        span.set_attribute("http.response.status_code", response.status)
        if response.status >= 500:
            span.set_status(StatusCode.ERROR)
        return response


def _request_id(given: str | None) -> str:
    """The caller's id if it is safe to echo and log, else a fresh one."""
    if given and _SAFE_ID.match(given):
        return given
    return "req_" + secrets.token_hex(12)
