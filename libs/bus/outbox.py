"""Transactional outbox: no dual writes between PostgreSQL and RabbitMQ.

A service writes its change and the messages announcing it in one
transaction (``add_to_outbox``, or ``outbox_insert`` inside the change's
own statement); the ``OutboxRelay`` then publishes them, with every confirm
in flight together, and deletes the rows the broker confirmed. A failure
leaves the rows in the outbox and they are published again: at least once,
and consumers dedupe by message id (``libs.bus.idempotency``).

Two ways a row reaches the relay:

- **Handed over** (``owner=relay.owner``): after its commit, the writer
  gives the rows it wrote to its own process's relay (``relay.committed``),
  which publishes them from memory and deletes them in batches a little
  later. No claim, no transaction and no empty rounds: one DELETE per
  ``delete_every_s`` instead of BEGIN, a claiming DELETE and COMMIT per
  wake-up, and one relay never takes another's rows, so more replicas do
  not mean more rounds. A relay holds an advisory lock named after its
  owner token on its LISTEN connection for as long as it runs; other
  relays take an owned row as an orphan only once it is ``handover_s`` old
  and nobody holds its owner's lock (its process died between commit and
  publish, and with it the connection), so that is how late such a
  message can be. A relay that is merely behind keeps its rows: taken by
  age alone, a busy worker's were published twice.
- **Swept**: rows written without an owner (``add_to_outbox`` sends a
  NOTIFY for them), orphans, and, after a failed publish, the relay's own
  rows are claimed with ``FOR UPDATE SKIP LOCKED`` (replicas never wait for
  each other), published, and deleted in the transaction that claimed
  them, committed only after every confirm. Every relay sweeps at least
  every ``poll_interval_s``. An owned row taken so may have reached the
  broker already, so it goes out marked (``REPUBLISHED_HEADER``): a
  consumer that looks up what it did only for deliveries that may repeat
  (``Delivery.maybe_seen``) looks it up for these too. (An unowned row
  whose sweep failed to commit goes out again unmarked; every row our
  services write is owned, and an effect that must never repeat is claimed
  with ``first_time`` anyway.)

Order is by row id within a batch; across replicas and retries it is best
effort, as it is on the bus anyway.

Every row is inserted and soon deleted, so the table is mostly dead rows
unless vacuumed often, and every sweep then steps over them. Autovacuum may
be off or too slow for a queue (it is off on our CI machines), so the relay
vacuums its outbox itself after every ``vacuum_every`` rows it relayed
(``SKIP_LOCKED``: a replica already vacuuming it is not waited for).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import orjson

from libs.bus import tracing
from libs.bus.message import REPUBLISHED_HEADER, OutgoingMessage
from libs.db import MigrationSource

log = logging.getLogger("omnigate.bus.outbox")

OUTBOX_MIGRATIONS = MigrationSource("bus", Path(__file__).parent / "migrations")

# NOTIFY channels are identifiers (at most 63 bytes); one per schema, so that
# services sharing a database do not wake each other's relays.
_CHANNEL_SQL = "left('omnigate.outbox.' || current_schema(), 63)"

_COLUMNS = "exchange, routing_key, message_id, type, tenant_id, headers, body, created_at"
_ARRAY_TYPES = ("text", "text", "text", "text", "text", "text", "bytea", "timestamptz")

# A running relay's lock (the two-key form, which no other lock of ours uses).
_OWNER_LOCK_KEYS = "hashtext($1), hashtext($1 || ':outbox')"

# Unowned rows, orphans (owned, older than the hand-over period, and their
# relay's lock free) and, when $2 is this relay's token, its own.
_SWEEP = """
WITH live AS MATERIALIZED (
    SELECT classid, objid FROM pg_locks
    WHERE locktype = 'advisory' AND objsubid = 2 AND granted
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
DELETE FROM outbox
WHERE id IN (SELECT id FROM outbox o
             WHERE owner IS NULL OR owner = $2
                OR (written_at < now() - make_interval(secs => $3)
                    AND NOT EXISTS (SELECT 1 FROM live
                                    WHERE classid = hashtext(o.owner)::oid
                                      AND objid = hashtext(o.owner || ':outbox')::oid))
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING id, exchange, routing_key, message_id, type, tenant_id, headers::text AS headers,
          body, created_at, owner IS NOT NULL AS republished
"""


@dataclass(frozen=True, slots=True)
class Written:
    """Outbox rows a transaction wrote, for its relay once it committed."""

    ids: tuple[int, ...] = ()
    messages: tuple[OutgoingMessage, ...] = ()

    @classmethod
    def of(cls, messages: Sequence[OutgoingMessage], rows: Iterable[tuple[int, str]]) -> Written:
        """From the (row id, message id) pairs an ``outbox_insert`` returned, in message order."""
        ids = {message_id: row_id for row_id, message_id in rows}
        mine = [m for m in messages if m.message_id in ids]
        return cls(tuple(ids[m.message_id] for m in mine), tuple(mine))


def outbox_insert(
    messages: Sequence[OutgoingMessage],
    *,
    first_param: int = 1,
    keys: Sequence[str] | None = None,
    keys_in: str | None = None,
    owner: str | None = None,
) -> tuple[str, list[Any]]:
    """``INSERT INTO outbox`` of ``messages`` and its arguments, for a statement of the caller's.

    A change that is a single statement can write its outbox rows as one of
    its data-modifying CTEs: atomic without a transaction, so BEGIN and
    COMMIT are two round trips fewer. Parameters are numbered from
    ``first_param``. With ``keys`` (one per message) and ``keys_in`` (a
    subquery of the caller's statement), only the messages whose key it
    returns are written, e.g. those of the rows the statement inserted.
    It returns ``id, message_id`` of each row (``Written.of``); ``owner``
    hands the rows to that relay (``OutboxRelay.owner``).

    The current trace context is stored with each message that has none, so
    the relay's publish span continues the trace of the request that wrote it.
    """
    headers: list[str] = []
    for m in messages:
        h = dict(m.headers)
        if "traceparent" not in h:
            tracing.capture(h)
        headers.append(orjson.dumps(h).decode())
    args: list[Any] = [
        [m.exchange for m in messages],
        [m.routing_key for m in messages],
        [m.message_id for m in messages],
        [m.type for m in messages],
        [m.tenant_id for m in messages],
        headers,
        [m.body for m in messages],
        [m.timestamp for m in messages],
    ]
    types = list(_ARRAY_TYPES)
    key = where = ""
    if keys is not None:
        if keys_in is None or len(keys) != len(messages):
            raise ValueError("keys needs keys_in and one key per message")
        args.append(list(keys))
        types.append("text")
        key, where = ", k", f" WHERE k IN ({keys_in})"
    arrays = ", ".join(f"${first_param + i}::{t}[]" for i, t in enumerate(types))
    owner_param = f"${first_param + len(types)}::text"
    args.append(owner)
    sql = (
        f"INSERT INTO outbox ({_COLUMNS}, owner)"
        f" SELECT e, r, m, t, tn, h::jsonb, b, coalesce(ts, now()), {owner_param}"
        f" FROM unnest({arrays}) AS u(e, r, m, t, tn, h, b, ts{key}){where}"
        " RETURNING id, message_id"
    )
    return sql, args


async def add_to_outbox(
    conn: asyncpg.Connection,
    messages: Sequence[OutgoingMessage],
    *,
    owner: str | None = None,
    channel: str | None = None,
) -> Written:
    """Write ``messages`` to the outbox within the caller's transaction (one round trip).

    ``owner`` (``relay.owner``): after the commit, the caller hands the
    returned ``Written`` to that relay (``relay.committed``). Without one,
    a NOTIFY on ``channel`` (default: per schema, which ``OutboxRelay``
    listens on) wakes every relay of the schema to sweep the rows.
    """
    if not messages:
        return Written()
    if not conn.is_in_transaction():
        # Outside a transaction the row would be committed on its own, which
        # is exactly the dual write the outbox exists to prevent.
        raise RuntimeError("add_to_outbox must run inside the transaction of the change")
    sql, args = outbox_insert(messages, owner=owner)
    if owner is None:
        to = f"coalesce(${len(args) + 1}, {_CHANNEL_SQL})"
        sql = f"WITH added AS ({sql}), n AS (SELECT pg_notify({to}, '')) SELECT * FROM added, n"
        args.append(channel)
    rows = await conn.fetch(sql, *args)
    return Written.of(messages, ((r["id"], r["message_id"]) for r in rows))


class _Publishes(Protocol):
    async def publish_many(self, messages: Sequence[OutgoingMessage]) -> None: ...


class OutboxWriter(Protocol):
    """What a service's code writes its messages through (an ``OutboxRelay``, or a fake).

    ``add`` inside the change's transaction, or ``owner`` for an
    ``outbox_insert`` in the change's own statement; then ``committed`` with
    what was written, once the transaction committed.
    """

    owner: str

    async def add(
        self, conn: asyncpg.Connection, messages: Sequence[OutgoingMessage]
    ) -> Written: ...

    def committed(self, written: Written) -> None: ...


class OutboxRelay:
    """Relays a schema's outbox to the bus until stopped; run one per service process.

    ``pool`` is the service's pool (search path = its schema); the relay
    holds one of its connections for LISTEN, so size the pool for it.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: _Publishes,
        channel_name: str | None = None,
        *,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        max_backoff_s: float = 5.0,
        vacuum_every: int = 20_000,
        handover_s: float = 15.0,
        delete_every_s: float = 0.2,
        name: str = "outbox",
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.name = name  # names its tasks and log lines
        # Marks the rows handed to this relay (this process's, this run's).
        self.owner = f"{name}-{secrets.token_hex(8)}"
        self._pool = pool
        self._publisher = publisher
        self._channel_name = channel_name
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._max_backoff_s = max_backoff_s
        self._handover_s = handover_s
        self._delete_every_s = delete_every_s
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._run_task: asyncio.Task[None] | None = None
        self._listen_task: asyncio.Task[None] | None = None
        self.relayed = 0  # messages confirmed by this relay (a metric)
        self._vacuum_every = vacuum_every
        self._vacuumed_at = 0  # self.relayed when the outbox was last vacuumed
        # Handed over, not yet published; published, not yet deleted (and since when).
        self._fresh: list[tuple[int, OutgoingMessage]] = []
        self._published: list[int] = []
        self._published_since = 0.0
        # Set by a NOTIFY or wake(); the first sweep runs at start anyway.
        self._sweep_due = False
        # After a failed publish the rows handed over are swept like orphans.
        self._recovering = False

    async def start(self) -> None:
        self._stopping.clear()
        self._listen_task = asyncio.create_task(self._listen(), name=f"{self.name} listen")
        self._run_task = asyncio.create_task(self._run(), name=f"{self.name} relay")

    async def add(self, conn: asyncpg.Connection, messages: Sequence[OutgoingMessage]) -> Written:
        """Write ``messages`` in the caller's transaction, for this relay (``committed`` next)."""
        return await add_to_outbox(conn, messages, owner=self.owner)

    def committed(self, written: Written) -> None:
        """Publish what a committed transaction wrote with ``owner=self.owner``."""
        if written.ids:
            self._fresh.extend(zip(written.ids, written.messages, strict=True))
            self._wakeup.set()

    def wake(self) -> None:
        """Sweep now (rows written without an owner are waiting)."""
        self._sweep_due = True
        self._wakeup.set()

    async def stop(self) -> None:
        """Publish and delete what was handed over, finish a sweep in hand, then stop."""
        self._stopping.set()
        self._wakeup.set()
        if self._run_task is not None:
            await self._run_task
            self._run_task = None
        if self._listen_task is not None:
            self._listen_task.cancel()
            await asyncio.gather(self._listen_task, return_exceptions=True)
            self._listen_task = None

    async def __aenter__(self) -> OutboxRelay:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def relay_once(self) -> int:
        """Publish what was handed over, delete it, then sweep; returns how many were relayed.

        Raises what a failed step raised; its rows are still in the outbox.
        """
        total = await self._publish_fresh()
        await self._delete_published()
        return total + await self._sweep()

    async def _publish_fresh(self) -> int:
        total = 0
        # Only what was handed over by now. Under a steady flow the list is
        # never empty: publishing until it is would starve the deletes.
        pending = len(self._fresh)
        while pending > 0:
            batch = self._fresh[: min(self._batch_size, pending)]
            try:
                await self._publisher.publish_many([m for _, m in batch])
            except BaseException:
                # Still in the outbox, and ours: the sweep after the back-off takes them.
                self._fresh.clear()
                self._recovering = True
                raise
            del self._fresh[: len(batch)]
            pending -= len(batch)
            if not self._published:
                self._published_since = time.monotonic()
            self._published.extend(i for i, _ in batch)
            self.relayed += len(batch)
            total += len(batch)
        return total

    async def _delete_published(self) -> None:
        if not self._published:
            return
        ids, self._published = self._published, []
        try:
            async with self._pool.acquire() as conn:
                await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", ids)
        except BaseException:
            self._published[:0] = ids  # the next round tries again
            raise

    async def _sweep(self) -> int:
        if self._recovering:
            # Own rows are swept now: none may wait in memory to be published twice.
            self._fresh.clear()
        total = 0
        while True:
            n = await self._sweep_batch(self.owner if self._recovering else None)
            total += n
            if n < self._batch_size or self._stopping.is_set():
                break
        self._recovering = False
        return total

    async def _sweep_batch(self, own: str | None) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_SWEEP, self._batch_size, own, self._handover_s)
            if not rows:
                return 0
            messages = [_to_message(r) for r in sorted(rows, key=lambda r: r["id"])]
            # The rows stay locked (and deleted only if we commit) while the
            # broker confirms; a failure here rolls the claim back.
            await self._publisher.publish_many(messages)
        self.relayed += len(rows)
        return len(rows)

    def _delete_due(self, now: float) -> bool:
        return bool(self._published) and (
            self._recovering
            or len(self._published) >= self._batch_size
            or now - self._published_since >= self._delete_every_s
            or self._stopping.is_set()
        )

    async def _round(self, next_sweep: float) -> float:
        """Publish, delete and sweep what is due; returns when the next sweep is due."""
        await self._publish_fresh()
        now = time.monotonic()
        if self._delete_due(now):
            await self._delete_published()
        if self._sweep_due or self._recovering or now >= next_sweep:
            self._sweep_due = False
            next_sweep = now + self._poll_interval_s
            await self._sweep()
        return next_sweep

    async def _run(self) -> None:
        failures = 0
        next_sweep = 0.0
        while True:
            self._wakeup.clear()
            stopping = self._stopping.is_set()
            try:
                next_sweep = await self._round(next_sweep)
            except Exception:  # the rows are still in the outbox
                failures += 1
                delay = min(self._max_backoff_s, 0.1 * 2 ** min(failures, 10))
                log.warning("%s relay failed; retrying in %.1f s", self.name, delay, exc_info=True)
                if stopping:
                    return  # what is left is swept by a relay that runs on
                # Not woken by wake(): a burst of notifications must not turn a
                # broker outage into a tight retry loop.
                await _wait(self._stopping, delay)
                continue
            failures = 0
            if stopping and not self._fresh:
                return
            if self.relayed - self._vacuumed_at >= self._vacuum_every:
                await self._vacuum()
            now = time.monotonic()
            wait = next_sweep - now
            if self._published:
                wait = min(wait, self._published_since + self._delete_every_s - now)
            await _wait(self._wakeup, max(0.0, wait))

    async def _vacuum(self) -> None:
        self._vacuumed_at = self.relayed
        try:
            async with self._pool.acquire() as conn:
                await conn.execute("VACUUM (SKIP_LOCKED) outbox")
        except Exception:  # the next round tries again; relaying goes on
            log.warning("%s: vacuuming the outbox failed", self.name, exc_info=True)

    async def _listen(self) -> None:
        delay = 0.1
        while not self._stopping.is_set():
            try:
                await self._listen_once()
                delay = 0.1
            except asyncio.CancelledError:
                raise
            except Exception:  # polling covers the gap
                log.warning("%s LISTEN connection lost; re-listening", self.name, exc_info=True)
            await _wait(self._stopping, delay)
            delay = min(delay * 2, self._max_backoff_s)

    async def _listen_once(self) -> None:
        """Listen on one pool connection until it is lost (or the task is cancelled)."""
        conn = await self._pool.acquire()
        lost = asyncio.Event()

        def on_lost(_conn: object) -> None:
            lost.set()

        channel: str | None = None
        locked = False
        try:
            # Held while the connection lives: other relays see this one alive.
            locked = await conn.fetchval(
                f"SELECT pg_try_advisory_lock({_OWNER_LOCK_KEYS})", self.owner
            )
            if not locked:  # pragma: no cover - owner tokens are random
                log.warning("%s: owner lock %s is taken", self.name, self.owner)
            channel = self._channel_name or await conn.fetchval(f"SELECT {_CHANNEL_SQL}")
            conn.add_termination_listener(on_lost)
            await conn.add_listener(channel, self._on_notify)
            # Whatever was committed while nobody listened is relayed now.
            self.wake()
            while not lost.is_set():
                if not await _wait(lost, 30.0):
                    # A silently dropped TCP connection never reports
                    # termination; a ping finds out.
                    await conn.execute("SELECT 1", timeout=10)
        finally:
            conn.remove_termination_listener(on_lost)
            await self._release_listener(conn, channel, locked)

    async def _release_listener(self, conn: Any, channel: str | None, locked: bool) -> None:
        # The pool takes a connection back only without listeners or locks:
        # UNLISTEN and unlock, or, when the connection is too broken for that,
        # discard it.
        try:
            if channel is not None:
                await conn.remove_listener(channel, self._on_notify)
            if locked:
                await conn.execute(f"SELECT pg_advisory_unlock({_OWNER_LOCK_KEYS})", self.owner)
        except Exception:  # noqa: BLE001 - broken either way; terminated below
            conn.terminate()
        if conn.is_closed():
            # A closed connection keeps its listener registered (asyncpg
            # skips the UNLISTEN) and the pool warns about it, then drops it.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", asyncpg.InterfaceWarning)
                await self._pool.release(conn)
        else:
            await self._pool.release(conn)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, _payload: object) -> None:
        self.wake()


def _to_message(row: asyncpg.Record) -> OutgoingMessage:
    headers = orjson.loads(row["headers"])
    if row["republished"]:
        # An owned row is swept only once its relay died or failed to publish
        # it, perhaps after the broker had it: consumers may have seen it.
        headers[REPUBLISHED_HEADER] = "1"
    return OutgoingMessage(
        exchange=row["exchange"],
        routing_key=row["routing_key"],
        body=bytes(row["body"]),
        type=row["type"],
        tenant_id=row["tenant_id"],
        message_id=row["message_id"],
        headers=headers,
        timestamp=row["created_at"],
    )


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    """Wait for ``event`` up to ``seconds``; whether it was set."""
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        return False
    return True
