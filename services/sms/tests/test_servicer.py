"""The SmsService servicer against the real PostgreSQL: one bad item fails only itself."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from libs.api.numbers.v1 import numbers_pb2
from libs.api.sms.v1 import sms_pb2
from libs.grpc.errors import from_status_proto
from libs.ids import new_id
from services.sms import owners
from services.sms import repository as repo
from services.sms import status as st
from services.sms.schema import MIGRATIONS
from services.sms.servicer import SmsServicer
from tests.helpers.infra import schema_pool
from tests.helpers.outbox import TableOutbox

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 4, tzinfo=UTC)


class _NoNumbersService:
    """The copy knows every sender these tests use: the numbers service is never asked."""

    async def ResolveNumbers(self, request: object) -> None:  # noqa: N802
        raise AssertionError("the copy should have known the sender")


@pytest.fixture
async def servicer(database_dsn: str) -> AsyncIterator[tuple[SmsServicer, asyncpg.Pool]]:
    async with schema_pool(database_dsn, "sms", MIGRATIONS) as pool:
        async with pool.acquire() as conn:
            await owners.apply(
                conn,
                [
                    owners.Owned(f"num_{t}", t, "+447700900100", "", 1, T0, released=False)
                    for t in ("ten_b",)
                ],
            )
        copy = owners.Owners(pool, database_dsn, _NoNumbersService())  # type: ignore[arg-type]
        servicer = SmsServicer(pool, TableOutbox(), copy)
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
    requests.insert(17, _send("bad\x00"))
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


async def test_a_sender_that_is_not_the_tenants_fails_only_its_own_send(
    servicer: tuple[SmsServicer, asyncpg.Pool],
) -> None:
    sms, pool = servicer
    requests = [_send(f"valid {i}") for i in range(10)]
    # ten_a sends from ten_b's number, in the same batch as ten_b's own sends.
    requests.insert(4, _send("not mine", tenant="ten_a"))
    response = await sms.SendMessages(sms_pb2.SendMessagesRequest(requests=requests), None)
    kinds = [r.WhichOneof("result") for r in response.results]
    assert kinds == ["message"] * 4 + ["error"] + ["message"] * 6
    error = from_status_proto(response.results[4].error)
    assert [v.field for v in error.violations] == ["from"]  # type: ignore[attr-defined]
    assert "not one of your numbers" in error.detail
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM messages WHERE tenant_id = 'ten_a'") == 0


class _NumbersService:
    """Answers ResolveNumbers as the numbers service would, from its assignments."""

    def __init__(self, assigned: list[numbers_pb2.Number]) -> None:
        self.assigned = assigned
        self.asked: list[list[str]] = []

    async def ResolveNumbers(  # noqa: N802
        self, request: numbers_pb2.ResolveNumbersRequest
    ) -> numbers_pb2.ResolveNumbersResponse:
        self.asked.append(list(request.addresses))
        found = [n for n in self.assigned if n.address in request.addresses]
        return numbers_pb2.ResolveNumbersResponse(numbers=found)


async def test_an_address_the_copy_does_not_know_is_asked_once_and_kept(
    database_dsn: str,
) -> None:
    assigned = numbers_pb2.Number(
        id="num_new", tenant_id="ten_c", address="+447700900160", sequence=1,
        assigned_at_unix_ms=1_780_000_000_000,
    )  # fmt: skip
    service = _NumbersService([assigned])
    async with schema_pool(database_dsn, "sms", MIGRATIONS) as pool:
        copy = owners.Owners(pool, database_dsn, service)  # type: ignore[arg-type]
        async with pool.acquire() as conn:
            found = await copy.of(conn, ["+447700900160", "+447700900161"])
            assert {a: o.tenant_id for a, o in found.items()} == {"+447700900160": "ten_c"}
            again = await copy.of(conn, ["+447700900160"])
    assert again["+447700900160"].id == "num_new"
    # The second time the copy knew it; the unowned one is asked every time.
    assert service.asked == [["+447700900160", "+447700900161"]]


async def test_the_copy_applies_changes_in_sequence_and_the_latest_assignment_owns(
    database_dsn: str,
) -> None:
    def change(id_: str, tenant: str, seq: int, at: int, released: bool = False) -> owners.Owned:
        when = datetime.fromtimestamp(1_780_000_000 + at, UTC)
        return owners.Owned(
            id_, tenant, "+447700900170", f"https://{id_}/{seq}", seq, when, released
        )

    async with schema_pool(database_dsn, "sms", MIGRATIONS) as pool, pool.acquire() as conn:
        await owners.apply(conn, [change("num_1", "ten_a", 2, 0)])
        await owners.apply(conn, [change("num_1", "ten_a", 1, 0)])  # late: ignored
        kept = await owners.kept(conn, ["+447700900170"])
        assert kept["+447700900170"].sms_url == "https://num_1/2"
        # Reassigned to ten_b, and that event arrives before num_1's release.
        await owners.apply(conn, [change("num_2", "ten_b", 1, 60)])
        assert (await owners.kept(conn, ["+447700900170"]))["+447700900170"].tenant_id == "ten_b"
        await owners.apply(conn, [change("num_1", "ten_a", 3, 0, released=True)])
        assert (await owners.kept(conn, ["+447700900170"]))["+447700900170"].id == "num_2"
        await owners.apply(conn, [change("num_2", "ten_b", 2, 60, released=True)])
        assert await owners.kept(conn, ["+447700900170"]) == {}


async def test_what_a_process_remembers_is_forgotten_when_the_copy_changes(
    database_dsn: str,
) -> None:
    service = _NumbersService([])
    async with schema_pool(database_dsn, "sms", MIGRATIONS) as pool:
        copy = owners.Owners(pool, database_dsn, service)  # type: ignore[arg-type]
        await copy.start()
        try:
            for _ in range(100):  # until its listener is up: before that nothing is kept
                if copy._remembered._invalidation.trusted:
                    break
                await asyncio.sleep(0.02)
            number = "+447700900180"

            async def owner() -> str | None:
                found = await copy.of(conn, [number])
                return found[number].tenant_id if found else None

            first = owners.Owned("num_r", "ten_a", number, "", 1, T0, released=False)
            async with pool.acquire() as conn:
                await owners.apply(conn, [first])
                await asyncio.sleep(0.2)  # its own notification arrives
                assert (await copy.of(conn, ["+447700900180"]))[
                    "+447700900180"
                ].tenant_id == "ten_a"
                # Changed behind the copy's back, without a notification: still remembered.
                await conn.execute("UPDATE numbers SET tenant_id = 'ten_x' WHERE id = 'num_r'")
                assert (await copy.of(conn, ["+447700900180"]))[
                    "+447700900180"
                ].tenant_id == "ten_a"
                # Released through apply, which notifies every process: forgotten.
                await owners.apply(conn, [dataclasses.replace(first, sequence=2, released=True)])
                for _ in range(100):
                    if await owner() is None:
                        break
                    await asyncio.sleep(0.02)
                assert await owner() is None
        finally:
            await copy.stop()
