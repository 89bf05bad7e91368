"""The request id middleware with tracing off (the e2e suite runs with it on)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry import propagate, trace

from libs.logs import request_id_var
from libs.telemetry import tracing_on
from services.edge.http_tracing import tracing_middleware


@pytest.fixture
async def client(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TestClient]:
    # Off must cost nothing: with tracing off the API is never called.
    def untouchable(*args: object, **kwargs: object) -> None:
        raise AssertionError("the tracing API was used with tracing off")

    monkeypatch.setattr(propagate, "extract", untouchable)
    monkeypatch.setattr(trace, "get_tracer", untouchable)
    assert not tracing_on()

    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=request_id_var.get())

    app = web.Application(middlewares=[tracing_middleware])
    app.router.add_get("/echo", echo)
    async with TestClient(TestServer(app)) as c:
        yield c


async def test_a_safe_request_id_is_echoed_and_logged(client: TestClient) -> None:
    async with client.get("/echo", headers={"X-Request-Id": "req-42:a.b_c"}) as r:
        assert r.headers["X-Request-Id"] == "req-42:a.b_c"
        assert await r.text() == "req-42:a.b_c"


async def test_an_unsafe_or_missing_request_id_is_replaced(client: TestClient) -> None:
    async with client.get("/echo", headers={"X-Request-Id": "bad id\twith spaces"}) as r:
        given = r.headers["X-Request-Id"]
        assert given.startswith("req_") and await r.text() == given
    async with client.get("/echo") as r:
        assert r.headers["X-Request-Id"].startswith("req_")
        assert r.headers["X-Request-Id"] != given
