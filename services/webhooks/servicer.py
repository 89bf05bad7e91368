"""The WebhooksService gRPC servicer: tenants' signing secrets, endpoints, deliveries, attempts.

Every call is scoped to its tenant: another tenant's endpoint or delivery
is NOT_FOUND, like one that does not exist. Lists are cursor-paginated with
``libs.cursors`` tokens; resources come back rendered (``representation``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import asyncpg
import grpc

from libs.api.webhooks.v1 import webhooks_pb2 as pb
from libs.api.webhooks.v1 import webhooks_pb2_grpc
from libs.cursors import decode_cursor, encode_cursor
from libs.errors import FailedPrecondition, InvalidArgument, NotFound
from services.webhooks import endpoints, signing_secrets, store, validation
from services.webhooks.config import WebhookConfig
from services.webhooks.endpoints import Endpoint
from services.webhooks.representation import attempt_json, delivery_json, endpoint_json
from services.webhooks.ssrf import parse_networks

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def _page_size(requested: int) -> int:
    size = requested or DEFAULT_PAGE_SIZE
    if size > MAX_PAGE_SIZE:
        raise InvalidArgument.for_field("page_size", f"must be at most {MAX_PAGE_SIZE}")
    return size


def _page(
    rows: Sequence[T], size: int, render: Callable[[T], bytes], id_of: Callable[[T], str]
) -> pb.RenderedPage:
    """``rows`` were fetched one past ``size``: the extra one says a next page exists."""
    items = rows[:size]
    token = encode_cursor(id_of(items[-1])) if len(rows) > size else ""
    return pb.RenderedPage(
        items=[pb.Rendered(id=id_of(r), public_json=render(r)) for r in items],
        next_page_token=token,
    )


def _endpoint(ep: Endpoint, *, with_secret: bool = False) -> pb.Rendered:
    return pb.Rendered(id=ep.id, public_json=endpoint_json(ep, with_secret=with_secret))


def _row_id(row: Any) -> str:
    return str(row["id"])


class WebhooksServicer(webhooks_pb2_grpc.WebhooksServiceServicer):
    def __init__(self, pool: asyncpg.Pool, config: WebhookConfig) -> None:
        self._pool = pool
        self._allowed = parse_networks(config.allowed_private_networks)

    async def EnsureSigningSecret(  # noqa: N802 - gRPC method name
        self, request: pb.EnsureSigningSecretRequest, context: grpc.aio.ServicerContext
    ) -> pb.SigningSecret:
        if not request.tenant_id:
            raise InvalidArgument.for_field("tenant_id", "must not be empty")
        async with self._pool.acquire() as conn:
            secret = await signing_secrets.ensure(conn, request.tenant_id)
        return pb.SigningSecret(tenant_id=request.tenant_id, secret=secret)

    async def CreateEndpoint(  # noqa: N802
        self, request: pb.CreateEndpointRequest, context: grpc.aio.ServicerContext
    ) -> pb.Rendered:
        fields = await validation.endpoint_changes(
            ("url", "event_types", "description"), request.endpoint, self._allowed
        )
        async with self._pool.acquire() as conn:
            count = await conn.fetchval(
                "SELECT count(*) FROM webhook_endpoints WHERE tenant_id = $1", request.tenant_id
            )
            if count >= validation.MAX_ENDPOINTS:
                raise FailedPrecondition(
                    f"a tenant may have at most {validation.MAX_ENDPOINTS} webhook endpoints"
                )
            ep = await endpoints.create(
                conn, request.tenant_id, fields["url"], fields["event_types"], fields["description"]
            )
        return _endpoint(ep, with_secret=True)

    async def _get(self, tenant_id: str, endpoint_id: str) -> Endpoint:
        async with self._pool.acquire() as conn:
            ep = await endpoints.get(conn, tenant_id, endpoint_id)
        if ep is None:
            raise NotFound(f"webhook endpoint {endpoint_id!r} not found")
        return ep

    async def GetEndpoint(  # noqa: N802
        self, request: pb.EndpointRequest, context: grpc.aio.ServicerContext
    ) -> pb.Rendered:
        return _endpoint(await self._get(request.tenant_id, request.id))

    async def ListEndpoints(  # noqa: N802
        self, request: pb.ListEndpointsRequest, context: grpc.aio.ServicerContext
    ) -> pb.RenderedPage:
        size = _page_size(request.page_size)
        before = decode_cursor(request.page_token, "whk") if request.page_token else None
        async with self._pool.acquire() as conn:
            rows = await endpoints.list_page(conn, request.tenant_id, size + 1, before)
        return _page(rows, size, endpoint_json, lambda ep: ep.id)

    async def UpdateEndpoint(  # noqa: N802
        self, request: pb.UpdateEndpointRequest, context: grpc.aio.ServicerContext
    ) -> pb.Rendered:
        changes = await validation.endpoint_changes(
            list(request.update_mask.paths), request.endpoint, self._allowed
        )
        async with self._pool.acquire() as conn:
            if changes:
                ep = await endpoints.update(conn, request.tenant_id, request.id, changes)
            else:
                ep = await endpoints.get(conn, request.tenant_id, request.id)
        if ep is None:
            raise NotFound(f"webhook endpoint {request.id!r} not found")
        return _endpoint(ep)

    async def DeleteEndpoint(  # noqa: N802
        self, request: pb.EndpointRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteEndpointResponse:
        async with self._pool.acquire() as conn:
            deleted = await endpoints.delete(conn, request.tenant_id, request.id)
        if not deleted:
            raise NotFound(f"webhook endpoint {request.id!r} not found")
        return pb.DeleteEndpointResponse()

    async def RotateEndpointSecret(  # noqa: N802
        self, request: pb.RotateEndpointSecretRequest, context: grpc.aio.ServicerContext
    ) -> pb.Rendered:
        requested = request.grace_period_s if request.HasField("grace_period_s") else None
        grace = timedelta(seconds=validation.grace_s(requested))
        async with self._pool.acquire() as conn:
            ep = await endpoints.rotate_secret(conn, request.tenant_id, request.id, grace)
        if ep is None:
            raise NotFound(f"webhook endpoint {request.id!r} not found")
        return _endpoint(ep, with_secret=True)

    async def ListDeliveries(  # noqa: N802
        self, request: pb.ListDeliveriesRequest, context: grpc.aio.ServicerContext
    ) -> pb.RenderedPage:
        ep = await self._get(request.tenant_id, request.endpoint_id)
        size = _page_size(request.page_size)
        before = decode_cursor(request.page_token, "dlv") if request.page_token else None
        async with self._pool.acquire() as conn:
            rows = await store.list_deliveries(conn, ep.tenant_id, ep.id, size + 1, before)
        return _page(rows, size, delivery_json, _row_id)

    async def ListAttempts(  # noqa: N802
        self, request: pb.ListAttemptsRequest, context: grpc.aio.ServicerContext
    ) -> pb.RenderedPage:
        ep = await self._get(request.tenant_id, request.endpoint_id)
        size = _page_size(request.page_size)
        after = decode_cursor(request.page_token, "att") if request.page_token else None
        async with self._pool.acquire() as conn:
            found = await store.get_delivery(conn, ep.tenant_id, ep.id, request.delivery_id)
            if found is None:
                raise NotFound(f"webhook delivery {request.delivery_id!r} not found")
            rows = await store.list_attempts(conn, request.delivery_id, size + 1, after)
        return _page(rows, size, attempt_json, _row_id)

    async def ResendDelivery(  # noqa: N802
        self, request: pb.DeliveryRequest, context: grpc.aio.ServicerContext
    ) -> pb.Rendered:
        ep = await self._get(request.tenant_id, request.endpoint_id)
        async with self._pool.acquire() as conn:
            row = await store.resend(conn, ep.tenant_id, ep.id, request.delivery_id)
        if row is None:
            raise NotFound(f"webhook delivery {request.delivery_id!r} not found")
        return pb.Rendered(id=row["id"], public_json=delivery_json(row))
