"""Routes are registered with the scope they need; a /v1 route without one never serves.

``add(app, method, path, handler, scope=...)`` is the only way a route of
the public API is added: the scope is declared where the route is, and the
auth middleware looks it up by the matched route. ``check(app)`` runs when
the application is built and refuses it (the edge does not start) when any
``/v1`` route has no declared scope, so a new resource cannot be reached
with a key that was never granted it. ``PUBLIC`` declares a route that needs
no key at all (the OpenAPI document).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute

PUBLIC = "public"
_SCOPES = web.AppKey("route_scopes", dict)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add(app: web.Application, method: str, path: str, handler: Handler, *, scope: str) -> None:
    """Register ``method path`` needing ``scope`` (``scopes.scope(...)`` or ``PUBLIC``);
    a GET answers HEAD too, under the same scope."""
    table: dict[AbstractRoute, str] = app.setdefault(_SCOPES, {})
    methods = (method, "HEAD") if method == "GET" else (method,)
    for m in methods:
        table[app.router.add_route(m, path, handler)] = scope


def scope_of(request: web.Request) -> str | None:
    """The scope the matched route declared; None for no route (a 404 or 405 to come)."""
    table: dict[AbstractRoute, str] = request.app.get(_SCOPES, {})
    return table.get(request.match_info.route)


def declared(app: web.Application) -> dict[tuple[str, str], str]:
    """Each route's scope by (method, path template), HEAD left out (it follows GET)."""
    table: dict[AbstractRoute, str] = app.get(_SCOPES, {})
    return {
        (route.method, route.resource.canonical): needed
        for route, needed in table.items()
        if route.method != "HEAD" and route.resource is not None
    }


def undeclared(app: web.Application) -> list[str]:
    """Every ``/v1`` route of ``app`` that declared no scope (``METHOD path``)."""
    table: dict[AbstractRoute, str] = app.get(_SCOPES, {})
    return [
        f"{route.method} {route.resource.canonical}"
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/v1/")
        and route not in table
    ]


def check(app: web.Application) -> None:
    """Refuse an application with a ``/v1`` route that declared no scope."""
    missing = undeclared(app)
    if missing:
        raise RuntimeError(f"routes without a declared scope (fail closed): {', '.join(missing)}")
