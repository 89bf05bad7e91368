"""/v1/messages: send an SMS, read one with its status history, list them.

The sms service renders its messages (it owns their representation): these
handlers answer with its rendering as it is.
"""

from __future__ import annotations

from aiohttp import web

from libs.api.sms.v1 import sms_pb2, sms_pb2_grpc
from libs.errors import InvalidArgument
from services.edge import idempotency, routes
from services.edge.auth import TENANT_KEY
from services.edge.json_body import read_object
from services.edge.pagination import page_query, rendered, rendered_list
from services.edge.scopes import READ, WRITE, scope
from services.edge.sms_sender import SmsSender

SMS_KEY = web.AppKey("sms_stub", sms_pb2_grpc.SmsServiceStub)
SENDER_KEY = web.AppKey("sms_sender", SmsSender)

_SEND_REQUIRED = frozenset({"to", "from", "body"})
_SEND_OPTIONAL = frozenset({"status_callback"})


async def send_message(request: web.Request) -> web.Response:
    data = await read_object(request, _SEND_REQUIRED, _SEND_OPTIONAL)
    if data.get("status_callback") == "":
        # gRPC cannot tell "" from absent; a client sending "" most likely has a bug.
        raise InvalidArgument.for_field(
            "status_callback", "must be an absolute http(s) URL; leave the field out for none"
        )
    tenant = request[TENANT_KEY]
    msg = await request.app[SENDER_KEY].send(
        sms_pb2.SendMessageRequest(
            tenant_id=tenant.id,
            recipient=data["to"],
            sender=data["from"],
            body=data["body"],
            status_callback=data.get("status_callback", ""),
            idempotency_key=idempotency.key_of(request),
        )
    )
    response = rendered(msg, status=201)
    response.headers["Location"] = f"/v1/messages/{msg.id}"
    return response


async def get_message(request: web.Request) -> web.Response:
    msg = await request.app[SMS_KEY].GetMessage(
        sms_pb2.GetMessageRequest(tenant_id=request[TENANT_KEY].id, id=request.match_info["id"])
    )
    return rendered(msg)


_DIRECTIONS = {"inbound": sms_pb2.DIRECTION_INBOUND, "outbound": sms_pb2.DIRECTION_OUTBOUND}


async def list_messages(request: web.Request) -> web.Response:
    size, token = page_query(request, also=("direction",))
    direction = request.query.get("direction")
    if direction is not None and direction not in _DIRECTIONS:
        raise InvalidArgument.for_field("direction", "must be 'inbound' or 'outbound'")
    page = await request.app[SMS_KEY].ListMessages(
        sms_pb2.ListMessagesRequest(
            tenant_id=request[TENANT_KEY].id,
            page_size=size,
            page_token=token,
            direction=_DIRECTIONS.get(direction or "", sms_pb2.DIRECTION_UNSPECIFIED),
        )
    )
    kept = f"&direction={direction}" if direction else ""
    return rendered_list(request, page.messages, size, page.next_page_token, kept)


def add_routes(app: web.Application) -> None:
    read, write = scope("messages", READ), scope("messages", WRITE)
    routes.add(app, "POST", "/v1/messages", send_message, scope=write)
    routes.add(app, "GET", "/v1/messages", list_messages, scope=read)
    routes.add(app, "GET", "/v1/messages/{id}", get_message, scope=read)
