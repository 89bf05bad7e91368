"""The SmsService gRPC servicer: validate, check the sender is the tenant's, store, answer.

SendMessage calls arriving together share one transaction (micro-batched):
at 1,000+ messages/s a commit per message would serialise on the WAL flush.
Every caller still gets its answer only after its row is committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg
import grpc
from opentelemetry import propagate, trace

from libs.api.sms.v1 import sms_pb2, sms_pb2_grpc
from libs.batching import MicroBatcher
from libs.bus import OutboxWriter
from libs.cursors import decode_cursor, encode_cursor
from libs.db import TableGrowth
from libs.errors import Internal, InvalidArgument, NotFound, OmnigateError
from libs.faults import is_input_fault, unexpected
from libs.grpc.errors import to_status_proto
from libs.ids import is_id, new_id
from libs.telemetry import current_trace_headers, tracing_on
from services.sms import events, repository
from services.sms import status as st
from services.sms.convert import ENCODING_NUMBERS, message_from_row
from services.sms.events import TraceHeaders
from services.sms.owners import Owned, Owners
from services.sms.validation import validate_send

_tracer = trace.get_tracer("omnigate.sms")
log = logging.getLogger("omnigate.sms")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def _sends_from_own(message: repository.NewMessage, owned: dict[str, Owned]) -> bool:
    owner = owned.get(message.sender)
    return owner is not None and owner.tenant_id == message.tenant_id


def _not_yours(sender: str) -> InvalidArgument:
    # Another tenant's number reads like one nobody has: whose it is is not the caller's business.
    return InvalidArgument.for_field(
        "from",
        f"{sender} is not one of your numbers or sender IDs; GET /v1/numbers lists yours, "
        "and your operator assigns new ones",
    )


class SmsServicer(sms_pb2_grpc.SmsServiceServicer):
    def __init__(self, pool: asyncpg.Pool, outbox: OutboxWriter, owners: Owners) -> None:
        self._pool = pool
        self._outbox = outbox
        self._owners = owners
        self._inserts: MicroBatcher[
            tuple[repository.NewMessage, TraceHeaders], str | InvalidArgument | None
        ]
        # One message whose row PostgreSQL refuses must not fail the others it
        # was batched with: the insert is one transaction, so halves retry safely.
        self._inserts = MicroBatcher(
            self._flush_inserts, max_size=256, max_delay_s=0.002, split_on=is_input_fault
        )
        self._growth = TableGrowth(pool)

    async def close(self) -> None:
        await self._inserts.close()
        await self._growth.close()

    async def SendMessage(  # noqa: N802 - gRPC method name
        self, request: sms_pb2.SendMessageRequest, context: grpc.aio.ServicerContext
    ) -> sms_pb2.Message:
        return await self._send(request)

    async def SendMessages(  # noqa: N802 - gRPC method name
        self, request: sms_pb2.SendMessagesRequest, context: grpc.aio.ServicerContext
    ) -> sms_pb2.SendMessagesResponse:
        outcomes = await asyncio.gather(
            *(self._send_item(r) for r in request.requests), return_exceptions=True
        )
        results = []
        for outcome in outcomes:
            if isinstance(outcome, OmnigateError):
                results.append(sms_pb2.SendMessageResult(error=to_status_proto(outcome)))
            elif isinstance(outcome, Exception):
                # Only this item's: the others were stored and get their answer.
                answer = unexpected(outcome)
                if isinstance(answer, Internal):
                    log.error("SendMessages item failed", exc_info=outcome)
                results.append(sms_pb2.SendMessageResult(error=to_status_proto(answer)))
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                results.append(sms_pb2.SendMessageResult(message=outcome))
        return sms_pb2.SendMessagesResponse(results=results)

    async def _send_item(self, request: sms_pb2.SendMessageRequest) -> sms_pb2.Message:
        if not tracing_on():
            return await self._send(request)
        # Each item continues its caller's trace, so the request's chain of spans
        # runs through this service even though the call carried many.
        with _tracer.start_as_current_span(
            "omnigate.sms.v1.SmsService/SendMessages item",
            context=propagate.extract(dict(request.trace_context)),
        ):
            return await self._send(request)

    async def _send(self, request: sms_pb2.SendMessageRequest) -> sms_pb2.Message:
        valid = validate_send(request)
        now = datetime.now(UTC)
        new = repository.NewMessage(
            id=new_id("msg"),
            tenant_id=request.tenant_id,
            direction=sms_pb2.DIRECTION_OUTBOUND,
            sender=valid.sender_display,
            recipient=valid.recipient,
            body=valid.body,
            encoding=ENCODING_NUMBERS[valid.segments.encoding],
            segments=valid.segments.segments,
            status=st.QUEUED,
            status_callback=valid.status_callback,
            created_at=now,
            idempotency_key=request.idempotency_key or None,
        )
        # The trace context is taken here, in the request's span, because the
        # flush runs in the batcher's task.
        existing_id = await self._inserts.submit((new, current_trace_headers()))
        if isinstance(existing_id, InvalidArgument):
            raise existing_id
        if existing_id is not None:
            # The same Idempotency-Key created this message before: answer with it.
            return await self._get(request.tenant_id, existing_id)
        return message_from_row(new.as_row(), [new.first_transition()])

    async def _flush_inserts(
        self, items: Sequence[tuple[repository.NewMessage, TraceHeaders]]
    ) -> list[str | InvalidArgument | None]:
        async with self._pool.acquire() as conn:
            owned = await self._owners.of(conn, {m.sender for m, _ in items})
            mine = [_sends_from_own(m, owned) for m, _ in items]
            allowed = [item for item, ok in zip(items, mine, strict=True) if ok]
            inserted = await repository.insert_messages(
                conn,
                [m for m, _ in allowed],
                events.submit_commands(allowed),
                self._outbox.owner,
            )
        self._outbox.committed(inserted.announced)
        new = len(allowed) - len(inserted.existing)
        self._growth.added("messages", new)
        self._growth.added("message_transitions", new)
        return [
            inserted.existing.get(m.id) if ok else _not_yours(m.sender)
            for (m, _), ok in zip(items, mine, strict=True)
        ]

    async def GetMessage(  # noqa: N802
        self, request: sms_pb2.GetMessageRequest, context: grpc.aio.ServicerContext
    ) -> sms_pb2.Message:
        return await self._get(request.tenant_id, request.id)

    async def _get(self, tenant_id: str, message_id: str) -> sms_pb2.Message:
        if not is_id(message_id, "msg"):
            raise NotFound(f"message {message_id!r} not found")
        async with self._pool.acquire() as conn:
            found = await repository.get_message(conn, tenant_id, message_id)
        if found is None:
            raise NotFound(f"message {message_id!r} not found")
        row, history = found
        return message_from_row(row, history)

    async def ListMessages(  # noqa: N802
        self, request: sms_pb2.ListMessagesRequest, context: grpc.aio.ServicerContext
    ) -> sms_pb2.ListMessagesResponse:
        size = request.page_size or DEFAULT_PAGE_SIZE
        if size > MAX_PAGE_SIZE:
            raise InvalidArgument.for_field("page_size", f"must be at most {MAX_PAGE_SIZE}")
        before = decode_cursor(request.page_token, "msg") if request.page_token else None
        direction = request.direction or None
        async with self._pool.acquire() as conn:
            rows = await repository.list_messages(
                conn, request.tenant_id, size + 1, before, direction
            )
        page = rows[:size]
        token = encode_cursor(page[-1]["id"]) if len(rows) > size else ""
        return sms_pb2.ListMessagesResponse(
            messages=[message_from_row(r) for r in page], next_page_token=token
        )
