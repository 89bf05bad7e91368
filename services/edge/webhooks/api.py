"""/v1/webhook_endpoints: tenants' webhook endpoints, their secrets, deliveries and attempts.

An endpoint's ``secret`` is shown only when it is created and when it is
rotated. Every route is scoped to the caller's tenant: another tenant's
endpoint or delivery is a 404, like one that does not exist. Lists are
cursor-paginated like /v1/messages.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from aiohttp import web

from libs.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from services.edge import app as edge_app
from services.edge import routes
from services.edge.auth import TENANT_KEY
from services.edge.config import WebhookConfig
from services.edge.json_body import TypeCheck, read_object
from services.edge.pagination import list_body, page_args
from services.edge.scopes import READ, WRITE, scope
from services.edge.webhooks import endpoints, store
from services.edge.webhooks.endpoints import Endpoint
from services.edge.webhooks.ssrf import Network, UnsafeUrl, check_url, parse_networks

ALLOWED_KEY = web.AppKey("webhook_allowed_networks", tuple)

MAX_ENDPOINTS = 100
MAX_URL = 2048
MAX_DESCRIPTION = 500
DEFAULT_GRACE_S = 86400
MAX_GRACE_S = 7 * 86400
_BASE = "/v1/webhook_endpoints"


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def endpoint_json(ep: Endpoint, *, with_secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": ep.id,
        "object": "webhook_endpoint",
        "url": ep.url,
        "description": ep.description,
        "event_types": list(ep.event_types),
        "disabled": ep.disabled,
        "disabled_reason": ep.disabled_reason,
        "previous_secret_expires_at": store.timestamp_json(ep.previous_secret_expires_at),
        "created_at": store.timestamp_json(ep.created_at),
        "updated_at": store.timestamp_json(ep.updated_at),
    }
    if with_secret:
        out["secret"] = ep.secret
    return out


# -- strict bodies ---------------------------------------------------------------

# Field -> (check of the JSON type, how to say it).
_TYPES: dict[str, TypeCheck] = {
    "url": (lambda v: isinstance(v, str), "must be a string"),
    "description": (lambda v: isinstance(v, str), "must be a string"),
    "event_types": (
        lambda v: isinstance(v, list) and all(isinstance(t, str) for t in v),
        "must be a list of strings",
    ),
    "disabled": (lambda v: isinstance(v, bool), "must be true or false"),
    "grace_period_s": (
        lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "must be a number",
    ),
}


async def _read(
    request: web.Request, required: frozenset[str], optional: frozenset[str]
) -> dict[str, Any]:
    return await read_object(request, required, optional, types=_TYPES, allow_empty=True)


def _raise(problems: list[FieldViolation]) -> None:
    if problems:
        raise InvalidArgument(
            "; ".join(f"{p.field}: {p.description}" for p in problems), tuple(problems)
        )


async def _validate(request: web.Request, data: dict[str, Any]) -> dict[str, Any]:
    """The endpoint fields of ``data``, checked and normalised."""
    problems: list[FieldViolation] = []
    out: dict[str, Any] = {}
    if "url" in data:
        url = data["url"].strip()
        if len(url) > MAX_URL:
            problems.append(FieldViolation("url", f"must be at most {MAX_URL} characters"))
        else:
            try:
                await check_url(url, request.app[ALLOWED_KEY])
                out["url"] = url
            except UnsafeUrl as exc:
                problems.append(FieldViolation("url", str(exc)))
    if "event_types" in data:
        types = list(dict.fromkeys(data["event_types"]))
        bad = endpoints.invalid_event_types(types)
        if not types:
            problems.append(FieldViolation("event_types", "must name at least one event type"))
        elif bad:
            known = ", ".join(sorted(endpoints.EVENT_TYPES))
            problems.append(
                FieldViolation(
                    "event_types",
                    f"unknown event types {bad}; use '*', 'message.*' or any of {known}",
                )
            )
        out["event_types"] = types
    if "description" in data:
        if len(data["description"]) > MAX_DESCRIPTION:
            problems.append(
                FieldViolation("description", f"must be at most {MAX_DESCRIPTION} characters")
            )
        out["description"] = data["description"]
    if "disabled" in data:
        out["disabled"] = data["disabled"]
    _raise(problems)
    return out


# -- handlers --------------------------------------------------------------------


async def create_endpoint(request: web.Request) -> web.Response:
    data = await _read(request, frozenset({"url", "event_types"}), frozenset({"description"}))
    fields = await _validate(request, data)
    tenant_id = request[TENANT_KEY].id
    async with request.app[edge_app.POOL_KEY].acquire() as conn:
        count = await conn.fetchval(
            "SELECT count(*) FROM webhook_endpoints WHERE tenant_id = $1", tenant_id
        )
        if count >= MAX_ENDPOINTS:
            raise FailedPrecondition(f"a tenant may have at most {MAX_ENDPOINTS} webhook endpoints")
        ep = await endpoints.create(
            conn, tenant_id, fields["url"], fields["event_types"], fields.get("description", "")
        )
    response = _json(endpoint_json(ep, with_secret=True), status=201)
    response.headers["Location"] = f"{_BASE}/{ep.id}"
    return response


async def list_endpoints(request: web.Request) -> web.Response:
    size, before = page_args(request, "whk")
    async with request.app[edge_app.POOL_KEY].acquire() as conn:
        rows = await endpoints.list_page(conn, request[TENANT_KEY].id, size + 1, before)
    items = rows[:size]
    last = items[-1].id if len(rows) > size else None
    return _json(list_body(request, [endpoint_json(e) for e in items], size, last))


async def _endpoint(request: web.Request) -> Endpoint:
    endpoint_id = request.match_info["id"]
    async with request.app[edge_app.POOL_KEY].acquire() as conn:
        ep = await endpoints.get(conn, request[TENANT_KEY].id, endpoint_id)
    if ep is None:
        raise NotFound(f"webhook endpoint {endpoint_id!r} not found")
    return ep


async def get_endpoint(request: web.Request) -> web.Response:
    return _json(endpoint_json(await _endpoint(request)))


async def update_endpoint(request: web.Request) -> web.Response:
    data = await _read(
        request, frozenset(), frozenset({"url", "event_types", "description", "disabled"})
    )
    changes = await _validate(request, data)
    endpoint_id = request.match_info["id"]
    async with request.app[edge_app.POOL_KEY].acquire() as conn:
        if changes:
            ep = await endpoints.update(conn, request[TENANT_KEY].id, endpoint_id, changes)
        else:
            ep = await endpoints.get(conn, request[TENANT_KEY].id, endpoint_id)
    if ep is None:
        raise NotFound(f"webhook endpoint {endpoint_id!r} not found")
    return _json(endpoint_json(ep))


async def delete_endpoint(request: web.Request) -> web.Response:
    endpoint_id = request.match_info["id"]
    async with request.app[edge_app.POOL_KEY].acquire() as conn:
        deleted = await endpoints.delete(conn, request[TENANT_KEY].id, endpoint_id)
    if not deleted:
        raise NotFound(f"webhook endpoint {endpoint_id!r} not found")
    return web.Response(status=204)


async def rotate_secret(request: web.Request) -> web.Response:
    data = await _read(request, frozenset(), frozenset({"grace_period_s"}))
    grace = data.get("grace_period_s", DEFAULT_GRACE_S)
    if not 0 <= grace <= MAX_GRACE_S:
        raise InvalidArgument.for_field(
            "grace_period_s", f"must be from 0 to {MAX_GRACE_S} seconds"
        )
    endpoint_id = request.match_info["id"]
    async with request.app[edge_app.POOL_KEY].acquire() as conn:
        ep = await endpoints.rotate_secret(
            conn, request[TENANT_KEY].id, endpoint_id, timedelta(seconds=grace)
        )
    if ep is None:
        raise NotFound(f"webhook endpoint {endpoint_id!r} not found")
    return _json(endpoint_json(ep, with_secret=True))


async def list_deliveries(request: web.Request) -> web.Response:
    ep = await _endpoint(request)
    size, before = page_args(request, "dlv")
    async with request.app[edge_app.POOL_KEY].acquire() as conn:
        rows = await store.list_deliveries(conn, ep.tenant_id, ep.id, size + 1, before)
    items = rows[:size]
    last = items[-1]["id"] if len(rows) > size else None
    return _json(list_body(request, [store.delivery_json(r) for r in items], size, last))


async def _delivery_id(request: web.Request, ep: Endpoint) -> str:
    delivery_id = request.match_info["delivery_id"]
    async with request.app[edge_app.POOL_KEY].acquire() as conn:
        row = await store.get_delivery(conn, ep.tenant_id, ep.id, delivery_id)
    if row is None:
        raise NotFound(f"webhook delivery {delivery_id!r} not found")
    return delivery_id


async def list_attempts(request: web.Request) -> web.Response:
    ep = await _endpoint(request)
    delivery_id = await _delivery_id(request, ep)
    size, after = page_args(request, "att")
    async with request.app[edge_app.POOL_KEY].acquire() as conn:
        rows = await store.list_attempts(conn, delivery_id, size + 1, after)
    items = rows[:size]
    last = items[-1]["id"] if len(rows) > size else None
    return _json(list_body(request, [store.attempt_json(r) for r in items], size, last))


async def resend_delivery(request: web.Request) -> web.Response:
    ep = await _endpoint(request)
    delivery_id = request.match_info["delivery_id"]
    async with request.app[edge_app.POOL_KEY].acquire() as conn:
        row = await store.resend(conn, ep.tenant_id, ep.id, delivery_id)
    if row is None:
        raise NotFound(f"webhook delivery {delivery_id!r} not found")
    return _json(store.delivery_json(row), status=202)


def add_routes(app: web.Application, config: WebhookConfig) -> None:
    """Register the webhook endpoint routes on ``app`` (``config``: for the SSRF guard)."""
    allowed: tuple[Network, ...] = parse_networks(config.allowed_private_networks)
    app[ALLOWED_KEY] = allowed
    read, write = scope("webhooks", READ), scope("webhooks", WRITE)
    one, deliveries = _BASE + "/{id}", _BASE + "/{id}/deliveries"
    routes.add(app, "POST", _BASE, create_endpoint, scope=write)
    routes.add(app, "GET", _BASE, list_endpoints, scope=read)
    routes.add(app, "GET", one, get_endpoint, scope=read)
    routes.add(app, "PATCH", one, update_endpoint, scope=write)
    routes.add(app, "DELETE", one, delete_endpoint, scope=write)
    routes.add(app, "POST", one + "/rotate_secret", rotate_secret, scope=write)
    routes.add(app, "GET", deliveries, list_deliveries, scope=read)
    routes.add(app, "GET", deliveries + "/{delivery_id}/attempts", list_attempts, scope=read)
    routes.add(app, "POST", deliveries + "/{delivery_id}/resend", resend_delivery, scope=write)
