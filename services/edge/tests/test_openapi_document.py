"""The OpenAPI document describes every public route the app serves, and only those."""

from __future__ import annotations

import re

from aiohttp import web

from libs.db import DatabaseConfig
from libs.grpc.config import GrpcClientConfig
from services.edge.admin_openapi import admin_document
from services.edge.app import create_app, public_document
from services.edge.config import EdgeSettings, HttpConfig
from services.edge.ratelimit import RateLimitConfig


def _app(admin_token: str = "") -> web.Application:
    settings = EdgeSettings(
        http=HttpConfig(admin_token=admin_token),
        db=DatabaseConfig(schema="edge"),
        sms=GrpcClientConfig(),
        ratelimit=RateLimitConfig(),
        webhooks=GrpcClientConfig(),
        numbers=GrpcClientConfig(),
    )
    return create_app(settings)


def _public_routes() -> set[tuple[str, str]]:
    app = _app()
    routes = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/v1/") and path != "/v1/openapi.json" and route.method != "HEAD":
            routes.add((route.method, path))
    return routes


def test_every_public_route_is_documented_and_nothing_else() -> None:
    doc = public_document()
    documented = {
        (method.upper(), path)
        for path, ops in doc["paths"].items()
        for method in ops
        if method != "parameters"
    }
    assert documented == _public_routes()


def test_every_reference_resolves() -> None:
    doc = public_document()
    text = str(doc)
    for kind, name in re.findall(r"#/components/(\w+)/([\w-]+)", text):
        assert name in doc["components"][kind], f"{kind}/{name} is referenced but not defined"


def test_every_operator_route_is_documented_and_nothing_else() -> None:
    app = _app(admin_token="opr_test")
    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/admin/v1/")
        and route.method != "HEAD"
        and route.resource.canonical != "/admin/v1/openapi.json"
    }
    doc = admin_document()
    documented = {
        (method.upper(), path)
        for path, ops in doc["paths"].items()
        for method in ops
        if method != "parameters"
    }
    assert documented == served
    for kind, name in re.findall(r"#/components/(\w+)/([\w-]+)", str(doc)):
        assert name in doc["components"][kind], f"{kind}/{name} is referenced but not defined"
