"""Every /v1 route declares its scope where it is registered; the edge refuses one without."""

from __future__ import annotations

import pytest
from aiohttp import web

from libs.db import DatabaseConfig
from libs.grpc.config import GrpcClientConfig
from services.edge import routes, scopes
from services.edge.app import create_app
from services.edge.config import EdgeSettings, HttpConfig
from services.edge.openapi import with_scopes
from services.edge.ratelimit import RateLimitConfig


def _app() -> web.Application:
    return create_app(
        EdgeSettings(
            http=HttpConfig(),
            db=DatabaseConfig(schema="edge"),
            sms=GrpcClientConfig(),
            ratelimit=RateLimitConfig(),
            webhooks=GrpcClientConfig(),
            numbers=GrpcClientConfig(),
        )
    )


async def _ok(_request: web.Request) -> web.Response:
    return web.Response()


def test_every_v1_route_of_the_edge_declares_a_scope_of_the_api() -> None:
    app = _app()
    walked = [
        (r.method, r.resource.canonical)
        for r in app.router.routes()
        if r.resource is not None and r.resource.canonical.startswith("/v1/")
    ]
    assert walked and routes.undeclared(app) == []
    declared = routes.declared(app)
    assert {(m, p) for m, p in walked if m != "HEAD"} == set(declared)
    for (method, path), needed in declared.items():
        if path == "/v1/openapi.json":
            assert needed == routes.PUBLIC
        else:
            assert needed in scopes.SCOPES, (method, path)
            assert needed.endswith(":read") == (method == "GET"), (method, path)


def test_an_app_with_a_v1_route_that_declares_no_scope_is_refused() -> None:
    app = web.Application()
    routes.add(app, "GET", "/v1/calls", _ok, scope=scopes.scope("messages", scopes.READ))
    app.router.add_post("/v1/calls", _ok)
    with pytest.raises(RuntimeError, match="POST /v1/calls"):
        routes.check(app)


def test_routes_outside_v1_need_no_scope() -> None:
    app = web.Application()
    app.router.add_get("/healthz", _ok)
    routes.check(app)


def test_a_get_route_answers_head_under_the_same_scope() -> None:
    app = web.Application()
    routes.add(app, "GET", "/v1/messages", _ok, scope="messages:read")
    methods = {r.method for r in app.router.routes()}
    assert methods == {"GET", "HEAD"} and routes.undeclared(app) == []


def test_a_scope_must_name_a_resource_of_the_api() -> None:
    with pytest.raises(ValueError, match="calls:read"):
        scopes.scope("calls", scopes.READ)


@pytest.mark.parametrize(
    ("granted", "needed", "allowed"),
    [
        ({"full"}, "messages:write", True),
        # A resource added after the key was issued: presets cover it.
        ({"full"}, "calls:write", True),
        ({"read-only"}, "calls:read", True),
        ({"read-only"}, "calls:write", False),
        ({"read-only"}, "messages:write", False),
        ({"send-only"}, "messages:write", True),
        ({"send-only"}, "messages:read", False),
        ({"send-only"}, "webhooks:write", False),
        ({"messages:read"}, "messages:read", True),
        ({"messages:read"}, "webhooks:read", False),
    ],
)
def test_presets_are_resolved_when_a_request_is_checked(
    granted: set[str], needed: str, allowed: bool
) -> None:
    assert scopes.allows(frozenset(granted), needed) is allowed


def test_an_unknown_scope_is_refused_naming_it() -> None:
    with pytest.raises(Exception, match="'admin'"):
        scopes.resolve(["read-only", "admin"])
    assert scopes.resolve(["full"]) == {"full"}


def test_the_document_names_each_operations_scope() -> None:
    doc = {"paths": {"/v1/x": {"get": {"operationId": "x"}, "parameters": []}}}
    out = with_scopes(doc, {("GET", "/v1/x"): "messages:read"})
    assert out["paths"]["/v1/x"]["get"]["security"] == [{"bearerAuth": ["messages:read"]}]
    assert out["paths"]["/v1/x"]["parameters"] == []
