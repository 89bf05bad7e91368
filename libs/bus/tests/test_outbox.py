"""The transactional outbox, its relay, and idempotent consumers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
import pytest

from libs.bus import (
    EVENTS,
    Bus,
    Consumer,
    Delivery,
    OutboxRelay,
    OutgoingMessage,
    Publisher,
    QueueSpec,
    add_to_outbox,
    first_time,
    first_time_many,
    outbox_insert,
)
from libs.bus.message import REPUBLISHED_HEADER
from tests.helpers.bus import Collector

pytestmark = pytest.mark.integration


def event(n: int = 0) -> OutgoingMessage:
    return OutgoingMessage(
        EVENTS, "test.order.placed", n.to_bytes(4, "big"), "omnigate.test.v1.Order", "ten_1"
    )


class Recording:
    """A publisher that records what it was asked to publish, then delegates."""

    def __init__(
        self,
        inner: Publisher,
        fail_after_publish: int = 0,
        fail_before_publish: int = 0,
        confirm_delay_s: float = 0.0,
    ) -> None:
        self.inner = inner
        self.published: list[str] = []
        self.messages: list[OutgoingMessage] = []
        self.fail_after_publish = fail_after_publish
        self.fail_before_publish = fail_before_publish
        self.confirm_delay_s = confirm_delay_s  # a busy broker

    async def publish_many(self, messages: Sequence[OutgoingMessage]) -> None:
        if self.fail_before_publish:
            self.fail_before_publish -= 1
            raise ConnectionResetError("broker connection lost")
        await self.inner.publish_many(messages)
        await asyncio.sleep(self.confirm_delay_s)
        self.published.extend(m.message_id for m in messages)
        self.messages.extend(messages)
        if self.fail_after_publish:
            # The broker has the messages, but the relay dies before its commit.
            self.fail_after_publish -= 1
            raise ConnectionResetError("relay lost its database connection")


async def outbox_rows(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM outbox")
    return count


async def test_rolled_back_rows_are_never_published(bus: Bus, pool: asyncpg.Pool) -> None:
    publisher = Recording(bus.publisher)
    relay = OutboxRelay(pool, publisher)
    with pytest.raises(RuntimeError, match="business rule"):
        async with pool.acquire() as conn, conn.transaction():
            await add_to_outbox(conn, [event(1), event(2)])
            raise RuntimeError("business rule says no")
    assert await relay.relay_once() == 0
    assert publisher.published == []
    assert await outbox_rows(pool) == 0


async def test_add_to_outbox_needs_a_transaction(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await add_to_outbox(conn, [event()])


async def test_outbox_insert_writes_only_the_keys_a_statement_returns(
    bus: Bus, pool: asyncpg.Pool
) -> None:
    """A change made in one statement carries its outbox rows as a CTE, gated by what it wrote."""
    await pool.execute("CREATE TABLE orders (id text PRIMARY KEY)")
    await pool.execute("INSERT INTO orders VALUES ('o2')")
    sent = [event(1), event(2), event(3)]
    outbox, args = outbox_insert(
        sent, first_param=2, keys=["o1", "o2", "o3"], keys_in="SELECT id FROM added"
    )
    added = await pool.fetch(
        "WITH added AS (INSERT INTO orders SELECT unnest($1::text[])"
        f" ON CONFLICT DO NOTHING RETURNING id), announced AS ({outbox}) SELECT id FROM added",
        ["o1", "o2", "o3"],
        *args,
    )
    assert sorted(r["id"] for r in added) == ["o1", "o3"]
    publisher = Recording(bus.publisher)
    assert await OutboxRelay(pool, publisher).relay_once() == 2
    assert publisher.published == [sent[0].message_id, sent[2].message_id]
    with pytest.raises(ValueError, match="one key per message"):
        outbox_insert(sent, keys=["o1"], keys_in="SELECT 1")


async def test_committed_rows_are_published_once_and_deleted(
    bus: Bus, pool: asyncpg.Pool, declared: list[QueueSpec]
) -> None:
    spec = QueueSpec("test.orders", events=("test.order.*",))
    declared.append(spec)
    got = Collector()
    publisher = Recording(bus.publisher)
    sent = [event(i) for i in range(1200)]  # more than one relay batch
    # A long poll interval: only the NOTIFY can wake the relay in time.
    relay = OutboxRelay(pool, publisher, batch_size=500, poll_interval_s=120)
    async with Consumer(bus, spec, got), relay:
        async with pool.acquire() as conn, conn.transaction():
            await add_to_outbox(conn, sent[:200])
            await add_to_outbox(conn, sent[200:])
        received = await got.wait_for(len(sent), within_s=40)
    assert sorted(publisher.published) == sorted(m.message_id for m in sent)
    assert len(publisher.published) == len(sent)
    assert {d.message_id for d in received} == {m.message_id for m in sent}
    assert await outbox_rows(pool) == 0
    first = next(d for d in received if d.message_id == sent[0].message_id)
    assert first.body == sent[0].body
    assert first.routing_key == "test.order.placed"
    # Rows without an owner go out unmarked: the sweep that publishes them deletes them.
    assert not any(d.republished for d in received)


async def test_the_relay_vacuums_its_outbox_after_so_many_rows(
    bus: Bus, pool: asyncpg.Pool
) -> None:
    # Autovacuum is off on the CI machines: without this the table is all dead rows.
    async def vacuums() -> int:
        async with pool.acquire() as conn:
            await conn.execute("SELECT pg_stat_clear_snapshot()")
            count: int = await conn.fetchval(
                "SELECT vacuum_count FROM pg_stat_user_tables"
                " WHERE relname = 'outbox' AND schemaname = current_schema()"
            )
            return count

    before = await vacuums()
    async with OutboxRelay(pool, bus.publisher, vacuum_every=10, poll_interval_s=0.05):
        async with pool.acquire() as conn, conn.transaction():
            await add_to_outbox(conn, [event(i) for i in range(25)])
        for _ in range(100):
            if await vacuums() > before:
                break
            await asyncio.sleep(0.05)
    assert await vacuums() > before
    assert await outbox_rows(pool) == 0


async def test_relay_crash_before_commit_republishes_and_consumer_dedupes(
    bus: Bus, pool: asyncpg.Pool, declared: list[QueueSpec]
) -> None:
    spec = QueueSpec("test.orders.dedupe", events=("test.order.*",))
    declared.append(spec)
    await pool.execute("CREATE TABLE effects (message_id text)")
    got = Collector()

    async def handler(d: Delivery) -> None:
        async with pool.acquire() as conn, conn.transaction():
            if await first_time(conn, "test.orders", d.message_id):
                await conn.execute("INSERT INTO effects VALUES ($1)", d.message_id)
        await got(d)

    publisher = Recording(bus.publisher, fail_after_publish=1)
    sent = event(7)
    async with Consumer(bus, spec, handler), OutboxRelay(pool, publisher) as relay:
        async with pool.acquire() as conn, conn.transaction():
            await add_to_outbox(conn, [sent])
        relay.wake()
        deliveries = await got.wait_for(2)
    assert [d.message_id for d in deliveries] == [sent.message_id] * 2
    assert publisher.published == [sent.message_id] * 2
    assert await pool.fetchval("SELECT count(*) FROM effects") == 1
    assert await outbox_rows(pool) == 0


async def wait_until_empty(pool: asyncpg.Pool) -> None:
    for _ in range(500):
        if not await outbox_rows(pool):
            return
        await asyncio.sleep(0.02)  # polling interval, not an assertion
    raise AssertionError(f"{await outbox_rows(pool)} rows still in the outbox after 10 s")


async def hand_over(pool: asyncpg.Pool, relay: OutboxRelay, sent: list[OutgoingMessage]) -> None:
    """Write ``sent`` for ``relay`` in one transaction; hand it over once committed."""
    async with pool.acquire() as conn, conn.transaction():
        written = await add_to_outbox(conn, sent, owner=relay.owner)
    relay.committed(written)


async def test_handed_over_rows_are_published_from_memory_then_deleted(
    bus: Bus, pool: asyncpg.Pool
) -> None:
    publisher = Recording(bus.publisher)
    sent = [event(i) for i in range(700)]  # more than one batch
    # Sweeping only at start, and a sweep leaves a fresh row with an owner alone.
    async with OutboxRelay(pool, publisher, poll_interval_s=120, delete_every_s=0.05) as relay:
        async with pool.acquire() as conn, conn.transaction():
            written = await add_to_outbox(conn, sent[:300], owner=relay.owner)
            written_too = await add_to_outbox(conn, sent[300:], owner=relay.owner)
        assert len(written.ids) == 300 and written.messages == tuple(sent[:300])
        relay.committed(written)
        relay.committed(written_too)
        await wait_until_empty(pool)
    assert publisher.published == [m.message_id for m in sent]
    assert not any(REPUBLISHED_HEADER in m.headers for m in publisher.messages)


async def test_other_relays_take_handed_over_rows_only_once_orphaned(
    bus: Bus, pool: asyncpg.Pool
) -> None:
    # Written for a relay that died before it could publish them.
    async with pool.acquire() as conn, conn.transaction():
        await add_to_outbox(conn, [event(1), event(2)], owner="sms-worker-dead")
    publisher = Recording(bus.publisher)
    other = OutboxRelay(pool, publisher, handover_s=0.5)
    assert await other.relay_once() == 0
    await asyncio.sleep(0.6)
    assert await other.relay_once() == 2
    assert len(publisher.published) == 2
    assert await outbox_rows(pool) == 0
    # Its relay may have published them before it died: consumers are told.
    assert all(m.headers[REPUBLISHED_HEADER] == "1" for m in publisher.messages)


async def test_a_relay_that_is_never_idle_deletes_what_it_published_in_time(
    bus: Bus, pool: asyncpg.Pool
) -> None:
    # Rows are handed over faster than the broker confirms them, so there is
    # always something left to publish. The relay must still delete what it
    # published: the table would grow for as long as the flow lasts, and, if
    # its process died, every row in it would be published again.
    publisher = Recording(bus.publisher, confirm_delay_s=0.02)
    others = Recording(bus.publisher)
    sent: list[OutgoingMessage] = []
    async with (
        OutboxRelay(pool, publisher, poll_interval_s=120, delete_every_s=0.05) as relay,
        OutboxRelay(pool, others, poll_interval_s=0.1, handover_s=1.0),
    ):
        loop = asyncio.get_running_loop()
        until = loop.time() + 2.5
        while loop.time() < until:
            more = [event(len(sent) + i) for i in range(5)]
            await hand_over(pool, relay, more)
            sent += more
        left_while_busy = await outbox_rows(pool)
        await wait_until_empty(pool)
    assert left_while_busy < len(sent) / 2, f"{left_while_busy} of {len(sent)} rows not deleted"
    assert others.published == []
    assert publisher.published == [m.message_id for m in sent]


async def owner_lock_held(pool: asyncpg.Pool, owner: str) -> bool:
    held: bool = await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2"
        " AND classid = hashtext($1)::oid AND objid = hashtext($1 || ':outbox')::oid)",
        owner,
    )
    return held


async def test_a_running_relays_rows_are_never_taken_as_orphans(
    bus: Bus, pool: asyncpg.Pool
) -> None:
    # However far behind a relay is, its rows are its own while it runs:
    # taken by age alone, a busy worker's events were published twice.
    busy = OutboxRelay(pool, Recording(bus.publisher), poll_interval_s=120)
    async with busy:
        async with pool.acquire() as conn, conn.transaction():
            # Written for it, not (yet) handed over: as if it had fallen behind.
            await add_to_outbox(conn, [event(1), event(2)], owner=busy.owner)
        for _ in range(250):
            if await owner_lock_held(pool, busy.owner):
                break
            await asyncio.sleep(0.02)  # polling interval, not an assertion
        publisher = Recording(bus.publisher)
        other = OutboxRelay(pool, publisher, handover_s=0.2)
        await asyncio.sleep(0.3)
        assert await other.relay_once() == 0
    # Stopped, it holds its lock no more: what it left is an orphan now.
    assert not await owner_lock_held(pool, busy.owner)
    assert await other.relay_once() == 2
    assert len(publisher.published) == 2


async def test_handed_over_rows_whose_publish_failed_are_swept_after_the_backoff(
    bus: Bus, pool: asyncpg.Pool
) -> None:
    publisher = Recording(bus.publisher, fail_before_publish=1)
    sent = [event(i) for i in range(5)]
    async with OutboxRelay(pool, publisher, poll_interval_s=120) as relay:
        await hand_over(pool, relay, sent)
        await wait_until_empty(pool)
    assert publisher.published == [m.message_id for m in sent]
    assert all(REPUBLISHED_HEADER in m.headers for m in publisher.messages)


async def test_stop_publishes_and_deletes_what_was_handed_over(
    bus: Bus, pool: asyncpg.Pool
) -> None:
    publisher = Recording(bus.publisher)
    relay = OutboxRelay(pool, publisher, poll_interval_s=120, delete_every_s=60)
    await relay.start()
    sent = event(1)
    await hand_over(pool, relay, [sent])
    await relay.stop()
    assert publisher.published == [sent.message_id]
    assert await outbox_rows(pool) == 0


async def test_first_time(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        async with conn.transaction():
            assert await first_time(conn, "c1", "evt_1")
            assert not await first_time(conn, "c1", "evt_1")
            assert await first_time(conn, "c2", "evt_1")
        # A claim rolled back with its effect was never made.
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                assert await first_time(conn, "c1", "evt_2")
                raise RuntimeError("effect failed")
        async with conn.transaction():
            assert await first_time(conn, "c1", "evt_2")
            fresh = await first_time_many(conn, "c1", ["evt_1", "evt_3", "evt_4", "evt_3"])
        assert fresh == {"evt_3", "evt_4"}
        assert await first_time_many(conn, "c1", []) == set()
