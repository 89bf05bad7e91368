"""/v1/webhook_endpoints: tenants' webhook endpoints, their secrets, deliveries and attempts.

The webhooks service owns them: these handlers check the HTTP request's
shape (JSON types, unknown fields, query parameters), call its gRPC API
and answer with what it renders. An endpoint's ``secret`` is shown only when
it is created and when it is rotated; another tenant's endpoint or delivery
is a 404, like one that does not exist.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from google.protobuf.field_mask_pb2 import FieldMask

from libs.api.webhooks.v1 import webhooks_pb2 as pb
from libs.api.webhooks.v1 import webhooks_pb2_grpc
from services.edge import routes
from services.edge.auth import TENANT_KEY
from services.edge.json_body import TypeCheck, read_object
from services.edge.pagination import page_query, rendered, rendered_page
from services.edge.scopes import READ, WRITE, scope

WEBHOOKS_KEY = web.AppKey("webhooks_stub", webhooks_pb2_grpc.WebhooksServiceStub)

_BASE = "/v1/webhook_endpoints"

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
_FIELDS = frozenset({"url", "event_types", "description", "disabled"})


async def _read(
    request: web.Request, required: frozenset[str], optional: frozenset[str]
) -> dict[str, Any]:
    return await read_object(request, required, optional, types=_TYPES, allow_empty=True)


def _fields(data: dict[str, Any]) -> pb.EndpointFields:
    return pb.EndpointFields(
        url=data.get("url", ""),
        event_types=data.get("event_types", []),
        description=data.get("description", ""),
        disabled=data.get("disabled", False),
    )


def _stub(request: web.Request) -> webhooks_pb2_grpc.WebhooksServiceStub:
    return request.app[WEBHOOKS_KEY]


def _tenant(request: web.Request) -> str:
    return request[TENANT_KEY].id


async def create_endpoint(request: web.Request) -> web.Response:
    data = await _read(request, frozenset({"url", "event_types"}), frozenset({"description"}))
    ep = await _stub(request).CreateEndpoint(
        pb.CreateEndpointRequest(tenant_id=_tenant(request), endpoint=_fields(data))
    )
    response = rendered(ep, status=201)
    response.headers["Location"] = f"{_BASE}/{ep.id}"
    return response


async def list_endpoints(request: web.Request) -> web.Response:
    size, token = page_query(request)
    page = await _stub(request).ListEndpoints(
        pb.ListEndpointsRequest(tenant_id=_tenant(request), page_size=size, page_token=token)
    )
    return rendered_page(request, page, size)


async def get_endpoint(request: web.Request) -> web.Response:
    ep = await _stub(request).GetEndpoint(
        pb.EndpointRequest(tenant_id=_tenant(request), id=request.match_info["id"])
    )
    return rendered(ep)


async def update_endpoint(request: web.Request) -> web.Response:
    data = await _read(request, frozenset(), _FIELDS)
    ep = await _stub(request).UpdateEndpoint(
        pb.UpdateEndpointRequest(
            tenant_id=_tenant(request),
            id=request.match_info["id"],
            endpoint=_fields(data),
            update_mask=FieldMask(paths=sorted(data)),
        )
    )
    return rendered(ep)


async def delete_endpoint(request: web.Request) -> web.Response:
    await _stub(request).DeleteEndpoint(
        pb.EndpointRequest(tenant_id=_tenant(request), id=request.match_info["id"])
    )
    return web.Response(status=204)


async def rotate_secret(request: web.Request) -> web.Response:
    data = await _read(request, frozenset(), frozenset({"grace_period_s"}))
    ep = await _stub(request).RotateEndpointSecret(
        pb.RotateEndpointSecretRequest(
            tenant_id=_tenant(request), id=request.match_info["id"], **data
        )
    )
    return rendered(ep)


async def list_deliveries(request: web.Request) -> web.Response:
    size, token = page_query(request)
    page = await _stub(request).ListDeliveries(
        pb.ListDeliveriesRequest(
            tenant_id=_tenant(request),
            endpoint_id=request.match_info["id"],
            page_size=size,
            page_token=token,
        )
    )
    return rendered_page(request, page, size)


async def list_attempts(request: web.Request) -> web.Response:
    size, token = page_query(request)
    page = await _stub(request).ListAttempts(
        pb.ListAttemptsRequest(
            tenant_id=_tenant(request),
            endpoint_id=request.match_info["id"],
            delivery_id=request.match_info["delivery_id"],
            page_size=size,
            page_token=token,
        )
    )
    return rendered_page(request, page, size)


async def resend_delivery(request: web.Request) -> web.Response:
    delivery = await _stub(request).ResendDelivery(
        pb.DeliveryRequest(
            tenant_id=_tenant(request),
            endpoint_id=request.match_info["id"],
            delivery_id=request.match_info["delivery_id"],
        )
    )
    return rendered(delivery, status=202)


def add_routes(app: web.Application) -> None:
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
