"""/v1/numbers: the tenant's numbers and sender IDs, and where their inbound traffic goes.

The numbers service owns them: these handlers check the HTTP request's
shape and forward it. Operators assign and release numbers through
/admin/v1/tenants/{tenant_id}/numbers; another tenant's number is a 404,
like one that does not exist.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from google.protobuf.field_mask_pb2 import FieldMask

from libs.api.numbers.v1 import numbers_pb2 as pb
from libs.api.numbers.v1 import numbers_pb2_grpc
from libs.errors import InvalidArgument
from services.edge import routes
from services.edge.auth import TENANT_KEY
from services.edge.json_body import TypeCheck, read_object
from services.edge.pagination import page_query, rendered, rendered_list
from services.edge.scopes import READ, WRITE, scope

NUMBERS_KEY = web.AppKey("numbers_stub", numbers_pb2_grpc.NumbersServiceStub)

BASE = "/v1/numbers"
FIELDS = frozenset({"sms_url", "voice_url", "voice_fallback_url", "status_callback"})
# A URL, or null to clear it.
_URL: TypeCheck = (lambda v: v is None or isinstance(v, str), "must be a URL string or null")


def _stub(request: web.Request) -> numbers_pb2_grpc.NumbersServiceStub:
    return request.app[NUMBERS_KEY]


async def list_numbers(request: web.Request) -> web.Response:
    size, token = page_query(request)
    page = await _stub(request).ListNumbers(
        pb.ListNumbersRequest(tenant_id=request[TENANT_KEY].id, page_size=size, page_token=token)
    )
    return rendered_list(request, page.numbers, size, page.next_page_token)


async def get_number(request: web.Request) -> web.Response:
    number = await _stub(request).GetNumber(
        pb.NumberRequest(tenant_id=request[TENANT_KEY].id, id=request.match_info["id"])
    )
    return rendered(number)


async def update_number(request: web.Request) -> web.Response:
    data: dict[str, Any] = await read_object(
        request, frozenset(), FIELDS, types=dict.fromkeys(FIELDS, _URL)
    )
    empty = sorted(k for k, v in data.items() if v == "")
    if empty:
        # gRPC cannot tell "" from absent, and "" is no URL: null is how to clear one.
        raise InvalidArgument.for_field(empty[0], "must be an absolute http(s) URL, or null")
    number = await _stub(request).UpdateNumber(
        pb.UpdateNumberRequest(
            tenant_id=request[TENANT_KEY].id,
            id=request.match_info["id"],
            # null clears a URL (the service takes "" for that).
            number=pb.NumberFields(**{k: v or "" for k, v in data.items()}),
            update_mask=FieldMask(paths=sorted(data)),
        )
    )
    return rendered(number)


def add_routes(app: web.Application) -> None:
    read, write = scope("numbers", READ), scope("numbers", WRITE)
    routes.add(app, "GET", BASE, list_numbers, scope=read)
    routes.add(app, "GET", BASE + "/{id}", get_number, scope=read)
    routes.add(app, "PATCH", BASE + "/{id}", update_number, scope=write)
