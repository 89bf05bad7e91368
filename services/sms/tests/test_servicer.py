"""The SmsService servicer against the real PostgreSQL: one bad item fails only itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import asyncpg
import pytest

from libs.api.sms.v1 import sms_pb2
from libs.bus import OutgoingMessage, Written, add_to_outbox
from libs.grpc.errors import from_status_proto
from libs.ids import new_id
from services.sms import repository as repo
from services.sms import status as st
from services.sms.schema import MIGRATIONS
from services.sms.servicer import SmsServicer
from tests.helpers.infra import schema_pool

pytestmark = pytest.mark.integration


class _Outbox:
    """Writes to the real outbox table; publishing is not what these tests are about."""

    owner = "test"

    async def add(self, conn: asyncpg.Connection, messages: Sequence[OutgoingMessage]) -> Written:
        return await add_to_outbox(conn, messages, owner=self.owner)

    def committed(self, written: Written) -> None:
        pass


@pytest.fixture
async def servicer(database_dsn: str) -> AsyncIterator[tuple[SmsServicer, asyncpg.Pool]]:
    async with schema_pool(database_dsn, "sms", MIGRATIONS) as pool:
        servicer = SmsServicer(pool, _Outbox())
        yield servicer, pool
        await servicer.close()


def _send(body: str, tenant: str = "ten_b") -> sms_pb2.SendMessageRequest:
    return sms_pb2.SendMessageRequest(
        tenant_id=tenant, recipient="+447700900000", sender="+447700900100", body=body
    )


async def test_a_send_with_a_nul_fails_alone_among_a_batch(
    servicer: tuple[SmsServicer, asyncpg.Pool],
) -> None:
    sms, pool = servicer
    requests = [_send(f"valid {i}") for i in range(40)]
    requests.insert(17, _send("bad\x00", tenant="ten_a"))
    response = await sms.SendMessages(sms_pb2.SendMessagesRequest(requests=requests), None)
    kinds = [r.WhichOneof("result") for r in response.results]
    assert kinds == ["message"] * 17 + ["error"] + ["message"] * 23
    error = from_status_proto(response.results[17].error)
    assert [v.field for v in error.violations] == ["body"]  # type: ignore[attr-defined]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM messages") == 40


async def test_a_row_postgresql_refuses_fails_only_its_own_insert(
    servicer: tuple[SmsServicer, asyncpg.Pool],
) -> None:
    """Should validation ever miss something, the batched INSERT still isolates it."""
    sms, pool = servicer
    now = datetime.now(UTC)

    def message(body: str) -> repo.NewMessage:
        return repo.NewMessage(
            id=new_id("msg"), tenant_id="ten_b", direction=sms_pb2.DIRECTION_OUTBOUND,
            sender="+447700900100", recipient="+447700900000", body=body, encoding=1,
            segments=1, status=st.QUEUED, status_callback="", created_at=now,
        )  # fmt: skip

    items = [message(f"valid {i}") for i in range(30)]
    items.insert(11, message("refused\x00"))
    outcomes = await asyncio.gather(
        *(sms._inserts.submit((m, {})) for m in items), return_exceptions=True
    )
    failed = [i for i, o in enumerate(outcomes) if isinstance(o, BaseException)]
    assert failed == [11]
    assert isinstance(outcomes[11], asyncpg.PostgresError)
    async with pool.acquire() as conn:
        stored = await conn.fetchval("SELECT count(*) FROM messages")
    assert stored == 30
