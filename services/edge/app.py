"""The HTTP edge: ``create_app(settings)`` builds the aiohttp application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from aiohttp import web

from libs.api.numbers.v1 import numbers_pb2_grpc
from libs.api.sms.v1 import sms_pb2_grpc
from libs.api.webhooks.v1 import webhooks_pb2_grpc
from libs.db import create_pool, migrate
from libs.grpc.client import open_channel
from services.edge import idempotency, messages, openapi, ratelimit, routes, text_input
from services.edge.admin import create_admin_app, signing_secret_of
from services.edge.auth import VERIFIER_KEY, KeyVerifier, auth_middleware
from services.edge.config import EdgeSettings
from services.edge.http_tracing import tracing_middleware
from services.edge.numbers import api as numbers_api
from services.edge.numbers import openapi as numbers_openapi
from services.edge.problems import problem_middleware
from services.edge.schema import MIGRATIONS
from services.edge.sms_sender import SmsSender
from services.edge.webhooks import api as webhooks_api
from services.edge.webhooks import openapi as webhooks_openapi

POOL_KEY = web.AppKey("pool", asyncpg.Pool)


def create_app(settings: EdgeSettings) -> web.Application:
    app = web.Application(
        middlewares=[
            tracing_middleware,
            problem_middleware,
            auth_middleware,
            text_input.text_middleware,
            ratelimit.ratelimit_middleware,
            idempotency.idempotency_middleware,
        ],
        client_max_size=settings.http.max_body_bytes,
    )

    async def database(app: web.Application) -> AsyncIterator[None]:
        pool = await create_pool(settings.db)
        await migrate(pool, settings.db.schema, list(MIGRATIONS))
        app[POOL_KEY] = pool
        verifier = KeyVerifier(pool, settings.db.dsn, settings.http.auth_cache_ttl_s)
        await verifier.start()
        app[VERIFIER_KEY] = verifier
        yield
        await verifier.stop()
        await pool.close()

    async def sms_channel(app: web.Application) -> AsyncIterator[None]:
        channel = open_channel(settings.sms)
        stub = sms_pb2_grpc.SmsServiceStub(channel)
        app[messages.SMS_KEY] = stub
        app[messages.SENDER_KEY] = sender = SmsSender(stub)
        yield
        await sender.close()
        await channel.close()

    async def numbers_channel(app: web.Application) -> AsyncIterator[None]:
        channel = open_channel(settings.numbers)
        app[numbers_api.NUMBERS_KEY] = numbers_pb2_grpc.NumbersServiceStub(channel)
        yield
        await channel.close()

    async def webhooks_channel(app: web.Application) -> AsyncIterator[None]:
        channel = open_channel(settings.webhooks)
        app[webhooks_api.WEBHOOKS_KEY] = webhooks_pb2_grpc.WebhooksServiceStub(channel)
        yield
        await channel.close()

    app.cleanup_ctx.extend([database, sms_channel, numbers_channel, webhooks_channel])
    idempotency.setup(app, lambda: app[POOL_KEY])
    ratelimit.setup(app, settings.ratelimit)
    messages.add_routes(app)
    numbers_api.add_routes(app)
    webhooks_api.add_routes(app)
    openapi.add_route(app, public_document())
    admin = create_admin_app(
        settings.http.admin_token,
        lambda: app[POOL_KEY],
        lambda: signing_secret_of(app[webhooks_api.WEBHOOKS_KEY]),
        lambda: app[numbers_api.NUMBERS_KEY],
    )
    app.add_subapp("/admin/v1/", admin)
    app.router.add_get("/healthz", _healthz)
    routes.check(app)
    return app


def public_document() -> dict[str, Any]:
    """The OpenAPI document of every /v1 route (served at /v1/openapi.json)."""
    return openapi.document(
        numbers_openapi.PATHS | webhooks_openapi.PATHS,
        numbers_openapi.SCHEMAS | webhooks_openapi.SCHEMAS,
    )


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})
