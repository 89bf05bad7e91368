"""RFC 9457 problem details: the one place errors become HTTP responses.

Every error response is ``application/problem+json`` with a stable ``type``
URI per error kind, a human ``title``, the ``status``, a ``detail`` saying
what was wrong with this request, and for validation errors an ``errors``
list naming each bad field.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import orjson
from aiohttp import web

from libs import errors
from libs.faults import is_outage
from libs.grpc.errors import from_rpc_error
from libs.logs import request_id_var

log = logging.getLogger("omnigate.edge")

PROBLEM_BASE = "https://omnigate.dev/problems/"
CONTENT_TYPE = "application/problem+json"

# Domain error -> (HTTP status, type slug, title)
_MAPPING: dict[type[errors.OmnigateError], tuple[int, str, str]] = {
    errors.InvalidArgument: (422, "validation-error", "Your request parameters didn't validate"),
    errors.NotFound: (404, "not-found", "Resource not found"),
    errors.AlreadyExists: (409, "conflict", "Resource already exists"),
    errors.FailedPrecondition: (409, "failed-precondition", "Operation not allowed in this state"),
    errors.Unauthenticated: (401, "unauthenticated", "Missing or invalid API key"),
    errors.PermissionDenied: (403, "forbidden", "This key may not do that"),
    errors.ResourceExhausted: (429, "rate-limited", "Too many requests"),
    errors.Unavailable: (503, "unavailable", "Service temporarily unavailable"),
    errors.DeadlineExceeded: (504, "timeout", "The request took too long"),
    errors.Internal: (500, "internal", "Internal error"),
}


class BadRequest(errors.OmnigateError):
    """The request itself could not be read (malformed JSON, wrong content type)."""

    def __init__(self, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.status = status


def problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> web.Response:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    request_id = request_id_var.get()
    if request_id:
        # Quoting it to support finds the request in the logs at once.
        body["request_id"] = request_id
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="omnigate"'
    return web.Response(
        body=orjson.dumps(body), status=status, content_type=CONTENT_TYPE, headers=headers
    )


def problem_for(exc: errors.OmnigateError) -> web.Response:
    if isinstance(exc, BadRequest):
        slug = "malformed-request" if exc.status == 400 else "unsupported-media-type"
        title = "Malformed request" if exc.status == 400 else "Unsupported media type"
        return problem(exc.status, slug, title, exc.detail)
    cls = next(c for c in type(exc).__mro__ if c in _MAPPING)
    status, slug, title = _MAPPING[cls]
    extra: dict[str, Any] = {}
    if isinstance(exc, errors.InvalidArgument) and exc.violations:
        extra["errors"] = [{"field": v.field, "detail": v.description} for v in exc.violations]
    response = problem(status, slug, title, exc.detail, **extra)
    if isinstance(exc, errors.ResourceExhausted) and exc.retry_after_s is not None:
        # Rounded up: a client that waits a rounded-down time would be refused again.
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    return response


class _OutageLog:
    """One line a second about requests refused while a dependency is away, not one each:
    under load an outage refuses hundreds a second."""

    def __init__(self, every_s: float = 1.0) -> None:
        self._every_s = every_s
        self._last = -every_s
        self._quiet = 0

    def log(self, request: web.Request, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last < self._every_s:
            self._quiet += 1
            return
        log.warning(
            "a dependency is unavailable on %s %s: %s: %s (and %d more requests since the last)",
            request.method,
            request.path,
            type(exc).__name__,
            exc,
            self._quiet,
        )
        self._last, self._quiet = now, 0


_outages = _OutageLog()


@web.middleware
async def problem_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except errors.OmnigateError as exc:
        return problem_for(exc)
    except grpc.aio.AioRpcError as exc:
        return problem_for(from_rpc_error(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = problem(exc.status, f"http-{exc.status}", exc.reason, exc.text or exc.reason)
        if "Allow" in exc.headers:
            # A 405 names the methods the resource has (RFC 9110 15.5.6).
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except TimeoutError:
        log.warning("a dependency timed out on %s %s", request.method, request.path)
        return problem_for(
            errors.DeadlineExceeded("a service behind the API did not answer in time")
        )
    except Exception as exc:
        if is_outage(exc):
            _outages.log(request, exc)
            return problem_for(errors.Unavailable("a service behind the API is unavailable; retry"))
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "internal", "Internal error", "an unexpected error occurred")
