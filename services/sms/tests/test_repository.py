"""The sms repository against the real PostgreSQL: transitions are forward-only and idempotent."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from libs.bus import COMMANDS, OutgoingMessage
from libs.ids import new_id
from services.sms import repository as repo
from services.sms import status as st
from services.sms.schema import MIGRATIONS
from tests.helpers.infra import schema_pool

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


@pytest.fixture
async def pool(database_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    async with schema_pool(database_dsn, "sms", MIGRATIONS) as pool:
        yield pool


def _message(segments: int = 1, tenant: str = "ten_a") -> repo.NewMessage:
    return repo.NewMessage(
        id=new_id("msg"), tenant_id=tenant, direction=1, sender="+447700900100",
        recipient="+447700900000", body="hi", encoding=1, segments=segments,
        status=st.QUEUED, status_callback="", created_at=T0,
    )  # fmt: skip


async def _new(pool: asyncpg.Pool, segments: int = 1, tenant: str = "ten_a") -> str:
    message = _message(segments, tenant)
    async with pool.acquire() as conn:
        await repo.insert_messages(conn, [message])
    return message.id


def _segments(message_id: str, carrier_ids: tuple[str, ...]) -> list[repo.SubmittedSegment]:
    return [repo.SubmittedSegment(message_id, i, c, T0) for i, c in enumerate(carrier_ids, 1)]


async def _submit(pool: asyncpg.Pool, message_id: str, *carrier_ids: str) -> list[repo.Transition]:
    async with pool.acquire() as conn, conn.transaction():
        due = await repo.record_segments(conn, _segments(message_id, carrier_ids))
        await repo.apply_transitions(conn, [repo.Transition(message_id, st.SENT, T0), *due])
        return due


async def _receipt(pool: asyncpg.Pool, carrier_id: str, status: int, err: str = "") -> int:
    report = repo.SegmentReport(
        carrier_id, (carrier_id,), status, "X", err, T0 + timedelta(seconds=1)
    )
    async with pool.acquire() as conn, conn.transaction():
        due, early = await repo.apply_segment_reports(conn, [report])
        applied = await repo.apply_transitions(conn, due)
    return len(applied) if not early else -early


async def _status(pool: asyncpg.Pool, message_id: str) -> tuple[int, list[int]]:
    async with pool.acquire() as conn:
        found = await repo.get_message(conn, "ten_a", message_id)
    assert found is not None
    row, history = found
    return row["status"], [h["status"] for h in history]


async def test_insert_writes_message_history_and_command_in_one_statement(
    pool: asyncpg.Pool,
) -> None:
    """Autocommitted as one statement; a repeated idempotency key writes none of the three,
    and a tenant whose every message was a repeat announces nothing."""
    first = dataclasses.replace(_message(), idempotency_key="k1")
    repeat = dataclasses.replace(_message(), idempotency_key="k1")
    fresh = _message()
    b_first = dataclasses.replace(_message(tenant="ten_b"), idempotency_key="k1")
    b_repeat = dataclasses.replace(_message(tenant="ten_b"), idempotency_key="k1")
    async with pool.acquire() as conn:
        await repo.insert_messages(conn, [b_first])
    commands = [
        OutgoingMessage(COMMANDS, "sms.submit", tenant.encode(), "test.Submit", tenant)
        for tenant in ("ten_a", "ten_b")
    ]
    async with pool.acquire() as conn:
        inserted = await repo.insert_messages(
            conn, [first, repeat, fresh, b_repeat], commands, owner="relay-1"
        )
        assert not conn.is_in_transaction()
    assert inserted.existing == {repeat.id: first.id, b_repeat.id: b_first.id}
    stored = await pool.fetch("SELECT id FROM messages ORDER BY id")
    assert sorted(r["id"] for r in stored) == sorted([first.id, fresh.id, b_first.id])
    history = await pool.fetch("SELECT message_id, sequence, status FROM message_transitions")
    assert sorted((r["message_id"], r["sequence"], r["status"]) for r in history) == sorted(
        [(first.id, 1, st.QUEUED), (fresh.id, 1, st.QUEUED), (b_first.id, 1, st.QUEUED)]
    )
    outbox = await pool.fetch("SELECT id, body, owner FROM outbox")
    assert [(bytes(r["body"]), r["owner"]) for r in outbox] == [(b"ten_a", "relay-1")]
    # What the relay is handed is exactly what was written.
    assert inserted.announced.ids == (outbox[0]["id"],)
    assert inserted.announced.messages == (commands[0],)


async def test_receipt_moves_a_sent_message_to_delivered_once(pool: asyncpg.Pool) -> None:
    mid = await _new(pool)
    await _submit(pool, mid, "abc1")
    assert await _receipt(pool, "abc1", st.DELIVERED) == 1
    assert await _receipt(pool, "abc1", st.DELIVERED) == 0  # a duplicated receipt changes nothing
    assert await _status(pool, mid) == (st.DELIVERED, [st.QUEUED, st.SENT, st.DELIVERED])


async def test_late_sent_report_does_not_overwrite_delivered(pool: asyncpg.Pool) -> None:
    mid = await _new(pool)
    await _submit(pool, mid, "abc2")
    await _receipt(pool, "abc2", st.DELIVERED)
    async with pool.acquire() as conn, conn.transaction():
        applied = await repo.apply_transitions(conn, [repo.Transition(mid, st.SENT, T0)])
    assert applied == []
    assert (await _status(pool, mid))[0] == st.DELIVERED


async def test_receipt_before_its_submit_is_recorded_is_kept_and_applied(
    pool: asyncpg.Pool,
) -> None:
    mid = await _new(pool)
    assert await _receipt(pool, "abc3", st.DELIVERED) == -1  # kept as early
    due = await _submit(pool, mid, "abc3")
    assert [t.status for t in due] == [st.DELIVERED]
    assert await _status(pool, mid) == (st.DELIVERED, [st.QUEUED, st.SENT, st.DELIVERED])


async def test_message_is_final_only_when_every_segment_reported(pool: asyncpg.Pool) -> None:
    mid = await _new(pool, segments=2)
    await _submit(pool, mid, "s1", "s2")
    assert await _receipt(pool, "s1", st.DELIVERED) == 0
    assert (await _status(pool, mid))[0] == st.SENT
    assert await _receipt(pool, "s2", st.UNDELIVERED, "001") == 1
    assert (await _status(pool, mid))[0] == st.PARTIALLY_DELIVERED


async def test_receipt_matches_a_decimal_id_reported_in_hex(pool: asyncpg.Pool) -> None:
    from libs.smpp.receipt import carrier_id_candidates, normalize_carrier_id

    mid = await _new(pool)
    await _submit(pool, mid, normalize_carrier_id("000255"))
    report = repo.SegmentReport(
        "ff", tuple(sorted(carrier_id_candidates("FF"))), st.DELIVERED, "DELIVRD", "", T0
    )
    async with pool.acquire() as conn, conn.transaction():
        due, early = await repo.apply_segment_reports(conn, [report])
    assert early == 0
    assert [t.status for t in due] == [st.DELIVERED]


async def test_claim_takes_a_queued_message_for_one_attempt_at_a_time(pool: asyncpg.Pool) -> None:
    mid = await _new(pool)
    async with pool.acquire() as conn:
        first = await repo.claim_for_submit(conn, [mid], lease_s=30)
        assert (first.taken, first.held) == ({mid: False}, set())
        # A second copy of the command while the first attempt holds it: hands off.
        second = await repo.claim_for_submit(conn, [mid], lease_s=30)
        assert (second.taken, second.held) == ({}, {mid})
        # Once the lease has run out (the holder died), it is taken over.
        await asyncio.sleep(0.01)
        third = await repo.claim_for_submit(conn, [mid], lease_s=0.001)
        assert (third.taken, third.held) == ({mid: True}, set())
    await _submit(pool, mid, "abc4")
    async with pool.acquire() as conn:
        done = await repo.claim_for_submit(conn, [mid], lease_s=0.001)
        assert (done.taken, done.held) == ({}, set())  # sent: its commands are duplicates


async def test_another_tenant_cannot_read_a_message(pool: asyncpg.Pool) -> None:
    mid = await _new(pool, tenant="ten_a")
    async with pool.acquire() as conn:
        assert await repo.get_message(conn, "ten_b", mid) is None
        assert await repo.list_messages(conn, "ten_b", 10, None) == []


async def test_receipt_racing_its_submit_record_is_applied_whichever_commits_first(
    pool: asyncpg.Pool,
) -> None:
    """Found by the pacing test: each side committed unseen by the other, and the
    receipt was kept where nobody looked again. Both orders, with both open at once."""
    for receipt_first in (False, True):
        mid = await _new(pool)
        cid = f"race{int(receipt_first)}"
        report = repo.SegmentReport(cid, (cid,), st.DELIVERED, "DELIVRD", "", T0)
        async with pool.acquire() as first, pool.acquire() as second:
            tx1, tx2 = first.transaction(), second.transaction()
            await tx1.start()
            await tx2.start()
            if receipt_first:
                await repo.apply_segment_reports(first, [report])
                waiting = asyncio.ensure_future(
                    repo.record_segments(second, _segments(mid, (cid,)))
                )
            else:
                await repo.record_segments(first, _segments(mid, (cid,)))
                waiting = asyncio.ensure_future(repo.apply_segment_reports(second, [report]))
            await asyncio.sleep(0.2)
            assert not waiting.done()  # it waits for the other side's commit...
            await tx1.commit()
            result = await asyncio.wait_for(waiting, 5)
            # ...and then sees it: the final status is due either way.
            due = result if receipt_first else result[0]
            assert [t.status for t in due] == [st.DELIVERED]  # type: ignore[union-attr]
            await tx2.commit()


async def test_status_updates_stay_on_their_page(pool: asyncpg.Pool) -> None:
    # HOT updates (same page, no index entries) need room on the page and no
    # indexed column changed: what the fillfactor is for, and what an index
    # on a status column would silently undo.
    messages = [_message() for _ in range(2000)]
    async with pool.acquire() as conn:
        await repo.insert_messages(conn, messages)
        async with conn.transaction():
            await repo.apply_transitions(
                conn, [repo.Transition(m.id, st.SENT, T0) for m in messages]
            )
            updated, hot = await conn.fetchrow(
                "SELECT pg_stat_get_xact_tuples_updated('messages'::regclass),"
                " pg_stat_get_xact_tuples_hot_updated('messages'::regclass)"
            )
    assert updated == len(messages)
    assert hot >= 0.9 * updated, (hot, updated)
