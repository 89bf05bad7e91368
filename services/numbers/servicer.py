"""The NumbersService gRPC servicer: assign, configure, list and resolve numbers.

Every tenant call is scoped to its tenant: another tenant's number is
NOT_FOUND, like one that does not exist. ResolveNumbers is for services,
which route by address whoever owns it.
"""

from __future__ import annotations

import asyncpg
import grpc

from libs.api.numbers.v1 import numbers_pb2 as pb
from libs.api.numbers.v1 import numbers_pb2_grpc
from libs.bus import OutboxWriter
from libs.cursors import decode_cursor, encode_cursor
from libs.errors import InvalidArgument, NotFound
from libs.ids import is_id
from services.numbers import store, validation
from services.numbers.model import Number
from services.numbers.representation import to_proto

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_RESOLVE = 1000


def _tenant(tenant_id: str) -> str:
    if not tenant_id:
        raise InvalidArgument.for_field("tenant_id", "must not be empty")
    return tenant_id


class NumbersServicer(numbers_pb2_grpc.NumbersServiceServicer):
    def __init__(self, pool: asyncpg.Pool, outbox: OutboxWriter) -> None:
        self._pool = pool
        self._outbox = outbox

    async def AssignNumber(  # noqa: N802 - gRPC method name
        self, request: pb.AssignNumberRequest, context: grpc.aio.ServicerContext
    ) -> pb.Number:
        tenant = _tenant(request.tenant_id)
        address, type_ = validation.address(request.address)
        return to_proto(await store.assign(self._pool, self._outbox, tenant, address, type_))

    async def ReleaseNumber(  # noqa: N802
        self, request: pb.NumberRequest, context: grpc.aio.ServicerContext
    ) -> pb.Number:
        self._check_id(request.id)
        number = await store.release(
            self._pool, self._outbox, _tenant(request.tenant_id), request.id
        )
        return to_proto(number)

    async def GetNumber(  # noqa: N802
        self, request: pb.NumberRequest, context: grpc.aio.ServicerContext
    ) -> pb.Number:
        return to_proto(await self._get(request.tenant_id, request.id))

    async def ListNumbers(  # noqa: N802
        self, request: pb.ListNumbersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListNumbersResponse:
        size = request.page_size or DEFAULT_PAGE_SIZE
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidArgument.for_field("page_size", f"must be from 1 to {MAX_PAGE_SIZE}")
        before = decode_cursor(request.page_token, "num") if request.page_token else None
        async with self._pool.acquire() as conn:
            rows = await store.list_page(conn, _tenant(request.tenant_id), size + 1, before)
        page = rows[:size]
        return pb.ListNumbersResponse(
            numbers=[to_proto(n) for n in page],
            next_page_token=encode_cursor(page[-1].id) if len(rows) > size else "",
        )

    async def UpdateNumber(  # noqa: N802
        self, request: pb.UpdateNumberRequest, context: grpc.aio.ServicerContext
    ) -> pb.Number:
        current = await self._get(request.tenant_id, request.id)
        changes = validation.changes(request.update_mask.paths, request.number, current.type)
        if not changes:
            return to_proto(current)
        updated = await store.update(
            self._pool, self._outbox, current.tenant_id, current.id, changes
        )
        return to_proto(updated)

    async def ResolveNumbers(  # noqa: N802
        self, request: pb.ResolveNumbersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResolveNumbersResponse:
        if len(request.addresses) > MAX_RESOLVE:
            raise InvalidArgument.for_field("addresses", f"at most {MAX_RESOLVE} at once")
        async with self._pool.acquire() as conn:
            found = await store.owners(conn, request.addresses)
        return pb.ResolveNumbersResponse(numbers=[to_proto(n) for n in found])

    async def _get(self, tenant_id: str, id_: str) -> Number:
        self._check_id(id_)
        async with self._pool.acquire() as conn:
            number = await store.get(conn, _tenant(tenant_id), id_)
        if number is None:
            raise NotFound(f"number {id_!r} not found")
        return number

    @staticmethod
    def _check_id(id_: str) -> None:
        if not is_id(id_, "num"):
            raise NotFound(f"number {id_!r} not found")
