"""The operator API, /admin/v1: tenants, their API keys, and the numbers assigned to them.

A sub-application with its own authentication: ``Authorization: Bearer
<OMNIGATE_EDGE_ADMIN_TOKEN>``. With no token configured the whole API answers
404, so an operator has to switch it on deliberately. Tenants' keys are
shown once, at creation; afterwards only their prefix is listed.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from aiohttp import web

from libs.api.numbers.v1 import numbers_pb2, numbers_pb2_grpc
from libs.api.webhooks.v1 import webhooks_pb2, webhooks_pb2_grpc
from libs.errors import InvalidArgument, NotFound, Unauthenticated
from services.edge import scopes, tenants
from services.edge.admin_openapi import admin_document
from services.edge.json_body import read_object
from services.edge.pagination import list_body, page_args, page_query, rendered, rendered_list
from services.edge.tenants import MAX_BURST, MAX_RATE, ApiKey, Limit, SigningSecretOf, Tenant

POOL_KEY = web.AppKey("admin_pool", asyncpg.Pool)
TOKEN_KEY = web.AppKey("admin_token", str)
SIGNING_KEY: web.AppKey[SigningSecretOf] = web.AppKey("admin_signing_secret_of")
NUMBERS_KEY = web.AppKey("admin_numbers", numbers_pb2_grpc.NumbersServiceStub)


def signing_secret_of(stub: webhooks_pb2_grpc.WebhooksServiceStub) -> SigningSecretOf:
    """A new tenant's signing secret, from the webhooks service that signs its webhooks."""

    async def ensure(tenant_id: str) -> str:
        made = await stub.EnsureSigningSecret(
            webhooks_pb2.EnsureSigningSecretRequest(tenant_id=tenant_id)
        )
        return str(made.secret)

    return ensure


def _iso(value: datetime | None) -> str | None:
    return (
        None if value is None else value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _limit_json(limit: Limit | None) -> dict[str, float] | None:
    return None if limit is None else {"per_s": limit.per_s, "burst": limit.burst}


def tenant_json(t: Tenant) -> dict[str, Any]:
    return {
        "id": t.id,
        "object": "tenant",
        "name": t.name,
        "status": t.status,
        "rate_limit": _limit_json(t.limit),
        "created_at": _iso(t.created_at),
    }


def key_json(k: ApiKey) -> dict[str, Any]:
    return {
        "id": k.id,
        "object": "api_key",
        "tenant_id": k.tenant_id,
        "name": k.name,
        "prefix": k.prefix,
        "scopes": sorted(k.scopes),
        "rate_limit": _limit_json(k.limit),
        "created_at": _iso(k.created_at),
        "revoked_at": _iso(k.revoked_at),
    }


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def limit_from(data: dict[str, Any]) -> Limit | None:
    """The ``rate_limit`` of a request body, checked (InvalidArgument names what is wrong)."""
    rate = data.get("rate_limit")
    if rate is None:
        return None
    if not isinstance(rate, dict) or set(rate) - {"per_s", "burst"} or "per_s" not in rate:
        raise InvalidArgument.for_field("rate_limit", 'must be {"per_s": number, "burst": int}')
    per_s, burst = rate["per_s"], rate.get("burst")
    if not isinstance(per_s, int | float) or isinstance(per_s, bool) or not 0 < per_s <= MAX_RATE:
        raise InvalidArgument.for_field(
            "rate_limit.per_s", f"must be a number above 0 and at most {MAX_RATE:,}"
        )
    if burst is None:
        burst = max(1, int(per_s))
    if not isinstance(burst, int) or isinstance(burst, bool) or not 1 <= burst <= MAX_BURST:
        raise InvalidArgument.for_field(
            "rate_limit.burst", f"must be a whole number from 1 to {MAX_BURST:,}"
        )
    return Limit(float(per_s), burst)


def _string(data: dict[str, Any], field: str, default: str = "") -> str:
    value = data.get(field, default)
    if not isinstance(value, str):
        raise InvalidArgument.for_field(field, "must be a string")
    return value


async def create_tenant(request: web.Request) -> web.Response:
    data = await read_object(request, frozenset({"name"}), frozenset({"rate_limit"}), strings=False)
    name, limit = _string(data, "name"), limit_from(data)
    async with request.app[POOL_KEY].acquire() as conn:
        created = await tenants.create_tenant(conn, name, limit, request.app[SIGNING_KEY])
    body = tenant_json(created.tenant) | {
        "api_key": {"id": created.key_id, "secret": created.api_key},
        "webhook_secret": created.webhook_secret,
    }
    return _json(body, 201)


async def list_tenants(request: web.Request) -> web.Response:
    size, after = page_args(request, "ten")
    async with request.app[POOL_KEY].acquire() as conn:
        rows = await tenants.list_tenants(conn, size + 1, after)
    items = rows[:size]
    last = items[-1].id if len(rows) > size else None
    return _json(list_body(request, [tenant_json(t) for t in items], size, last))


async def get_tenant(request: web.Request) -> web.Response:
    async with request.app[POOL_KEY].acquire() as conn:
        tenant = await tenants.get_tenant(conn, request.match_info["tenant_id"])
    return _json(tenant_json(tenant))


async def update_tenant(request: web.Request) -> web.Response:
    data = await read_object(
        request, frozenset(), frozenset({"name", "rate_limit", "status"}), strings=False
    )
    changes: dict[str, Any] = {}
    if "name" in data:
        changes["name"] = _string(data, "name")
    if "status" in data:
        status = _string(data, "status")
        if status not in ("active", "suspended"):
            raise InvalidArgument.for_field("status", "must be 'active' or 'suspended'")
        changes["status"] = status
    if "rate_limit" in data:
        limit = limit_from(data)
        changes["rate_limit_per_s"] = limit.per_s if limit else None
        changes["rate_limit_burst"] = limit.burst if limit else None
    async with request.app[POOL_KEY].acquire() as conn:
        tenant = await tenants.update_tenant(conn, request.match_info["tenant_id"], changes)
    return _json(tenant_json(tenant))


async def create_key(request: web.Request) -> web.Response:
    data = await read_object(
        request, frozenset(), frozenset({"name", "scopes", "rate_limit"}), strings=False
    )
    scopes_in = data.get("scopes", ["full"])
    if not isinstance(scopes_in, list) or not all(isinstance(s, str) for s in scopes_in):
        raise InvalidArgument.for_field("scopes", "must be a list of strings")
    async with request.app[POOL_KEY].acquire() as conn:
        created = await tenants.create_key(
            conn,
            request.match_info["tenant_id"],
            name=_string(data, "name"),
            scopes=scopes.resolve(scopes_in),
            limit=limit_from(data),
        )
    return _json(key_json(created.key) | {"secret": created.secret}, 201)


async def list_keys(request: web.Request) -> web.Response:
    async with request.app[POOL_KEY].acquire() as conn:
        keys = await tenants.list_keys(conn, request.match_info["tenant_id"])
    return _json(
        {
            "object": "list",
            "data": [key_json(k) for k in keys],
            "next_page_token": None,
            "next_page_url": None,
        }
    )


async def revoke_key(request: web.Request) -> web.Response:
    async with request.app[POOL_KEY].acquire() as conn:
        key = await tenants.revoke_key(
            conn, request.match_info["tenant_id"], request.match_info["key_id"]
        )
    return _json(key_json(key))


async def _existing_tenant(request: web.Request) -> str:
    async with request.app[POOL_KEY].acquire() as conn:
        tenant = await tenants.get_tenant(conn, request.match_info["tenant_id"])
    return tenant.id


async def assign_number(request: web.Request) -> web.Response:
    data = await read_object(request, frozenset({"number"}), frozenset())
    tenant_id = await _existing_tenant(request)
    number = await request.app[NUMBERS_KEY].AssignNumber(
        numbers_pb2.AssignNumberRequest(tenant_id=tenant_id, address=data["number"])
    )
    response = rendered(number, status=201)
    response.headers["Location"] = f"/admin/v1/tenants/{tenant_id}/numbers/{number.id}"
    return response


async def list_numbers(request: web.Request) -> web.Response:
    size, token = page_query(request)
    page = await request.app[NUMBERS_KEY].ListNumbers(
        numbers_pb2.ListNumbersRequest(
            tenant_id=await _existing_tenant(request), page_size=size, page_token=token
        )
    )
    return rendered_list(request, page.numbers, size, page.next_page_token)


async def release_number(request: web.Request) -> web.Response:
    number = await request.app[NUMBERS_KEY].ReleaseNumber(
        numbers_pb2.NumberRequest(
            tenant_id=await _existing_tenant(request), id=request.match_info["number_id"]
        )
    )
    return rendered(number)


_DOCUMENT = orjson.dumps(admin_document())


async def openapi_document(request: web.Request) -> web.Response:
    return web.Response(body=_DOCUMENT, content_type="application/json")


@web.middleware
async def operator_auth(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    token = request.app[TOKEN_KEY]
    if not token:
        raise NotFound("the operator API is not enabled")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
        raise Unauthenticated("send the operator token as 'Authorization: Bearer <token>'")
    return await handler(request)


def create_admin_app(
    token: str,
    pool_of: Callable[[], asyncpg.Pool],
    signing_of: Callable[[], SigningSecretOf],
    numbers_of: Callable[[], numbers_pb2_grpc.NumbersServiceStub],
) -> web.Application:
    """The /admin/v1 sub-application; ``pool_of``, ``signing_of`` and ``numbers_of`` give
    the edge's pool, its way to new tenants' signing secrets, and the numbers service,
    once they exist."""
    admin = web.Application(middlewares=[operator_auth])
    admin[TOKEN_KEY] = token

    async def bind_pool(app: web.Application) -> None:
        app[POOL_KEY] = pool_of()
        app[SIGNING_KEY] = signing_of()
        app[NUMBERS_KEY] = numbers_of()

    admin.on_startup.append(bind_pool)
    admin.router.add_post("/tenants", create_tenant)
    admin.router.add_get("/tenants", list_tenants)
    admin.router.add_get("/tenants/{tenant_id}", get_tenant)
    admin.router.add_patch("/tenants/{tenant_id}", update_tenant)
    admin.router.add_post("/tenants/{tenant_id}/keys", create_key)
    admin.router.add_get("/tenants/{tenant_id}/keys", list_keys)
    admin.router.add_delete("/tenants/{tenant_id}/keys/{key_id}", revoke_key)
    admin.router.add_post("/tenants/{tenant_id}/numbers", assign_number)
    admin.router.add_get("/tenants/{tenant_id}/numbers", list_numbers)
    admin.router.add_delete("/tenants/{tenant_id}/numbers/{number_id}", release_number)
    admin.router.add_get("/openapi.json", openapi_document)
    return admin
