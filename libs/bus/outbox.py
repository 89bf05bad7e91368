"""Transactional outbox: no dual writes between PostgreSQL and RabbitMQ.

A service writes its change and the messages announcing it in one
transaction (``add_to_outbox``); the ``OutboxRelay`` running in the same
service later claims rows, publishes them with every confirm in flight
together, and deletes them in the transaction that claimed them, committing
only after the broker confirmed every one. A failure rolls the claim back
and the rows are published again: at least once, and consumers dedupe by
message id (``libs.bus.idempotency``).

Claims use ``FOR UPDATE SKIP LOCKED``, so several replicas relay the same
outbox concurrently without waiting for each other. Order is by row id
within a batch; across replicas and retries it is best effort, as it is on
the bus anyway.

The relay wakes on a NOTIFY sent by the committing transaction (one per
``add_to_outbox`` call), on ``wake()`` from the same process, and at least
every ``poll_interval_s`` in case a notification was missed (its listening
connection was being re-established).

Every row is inserted and soon deleted, so the table is mostly dead rows
unless vacuumed often, and every claim then steps over them. Autovacuum may
be off or too slow for a queue (it is off on our CI machines), so the relay
vacuums its outbox itself after every ``vacuum_every`` rows it relayed
(``SKIP_LOCKED``: a replica already vacuuming it is not waited for).
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import orjson

from libs.bus import tracing
from libs.bus.message import OutgoingMessage
from libs.db import MigrationSource

log = logging.getLogger("omnigate.bus.outbox")

OUTBOX_MIGRATIONS = MigrationSource("bus", Path(__file__).parent / "migrations")

# NOTIFY channels are identifiers (at most 63 bytes); one per schema, so that
# services sharing a database do not wake each other's relays.
_CHANNEL_SQL = "left('omnigate.outbox.' || current_schema(), 63)"

_COLUMNS = "exchange, routing_key, message_id, type, tenant_id, headers, body, created_at"
_ARRAY_TYPES = ("text", "text", "text", "text", "text", "text", "bytea", "timestamptz")

_CLAIM = """
DELETE FROM outbox
WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING id, exchange, routing_key, message_id, type, tenant_id, headers::text AS headers,
          body, created_at
"""


def outbox_insert(
    messages: Sequence[OutgoingMessage],
    *,
    first_param: int = 1,
    keys: Sequence[str] | None = None,
    keys_in: str | None = None,
) -> tuple[str, list[Any]]:
    """``INSERT INTO outbox`` of ``messages`` and its arguments, for a statement of the caller's.

    A change that is a single statement can write its outbox rows as one of
    its data-modifying CTEs: atomic without a transaction, so BEGIN and
    COMMIT are two round trips fewer. Parameters are numbered from
    ``first_param``. With ``keys`` (one per message) and ``keys_in`` (a
    subquery of the caller's statement), only the messages whose key it
    returns are written, e.g. those of the rows the statement inserted.

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
    sql = (
        f"INSERT INTO outbox ({_COLUMNS})"
        " SELECT e, r, m, t, tn, h::jsonb, b, coalesce(ts, now())"
        f" FROM unnest({arrays}) AS u(e, r, m, t, tn, h, b, ts{key}){where}"
    )
    return sql, args


async def add_to_outbox(
    conn: asyncpg.Connection,
    messages: Sequence[OutgoingMessage],
    *,
    channel: str | None = None,
    notify: bool = True,
) -> None:
    """Write ``messages`` to the outbox within the caller's transaction (one round trip).

    ``notify=False``: the caller wakes its own process's relay after the
    commit (``OutboxRelay.wake``), so no NOTIFY wakes every relay of the
    schema for rows only one of them can take; the others' polling still
    relays them if this process dies first.

    ``channel`` overrides the NOTIFY channel (default: per schema, which
    is what ``OutboxRelay`` listens on by default).
    """
    if not messages:
        return
    if not conn.is_in_transaction():
        # Outside a transaction the row would be committed on its own, which
        # is exactly the dual write the outbox exists to prevent.
        raise RuntimeError("add_to_outbox must run inside the transaction of the change")
    sql, args = outbox_insert(messages)
    if notify:
        to = f"coalesce(${len(args) + 1}, {_CHANNEL_SQL})"
        sql = f"WITH added AS ({sql}) SELECT pg_notify({to}, '')"
        args.append(channel)
    await conn.execute(sql, *args)


class _Publishes(Protocol):
    async def publish_many(self, messages: Sequence[OutgoingMessage]) -> None: ...


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
        name: str = "outbox",
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.name = name  # names its tasks and log lines
        self._pool = pool
        self._publisher = publisher
        self._channel_name = channel_name
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._max_backoff_s = max_backoff_s
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._run_task: asyncio.Task[None] | None = None
        self._listen_task: asyncio.Task[None] | None = None
        self.relayed = 0  # messages confirmed and deleted by this relay (a metric)
        self._vacuum_every = vacuum_every
        self._vacuumed_at = 0  # self.relayed when the outbox was last vacuumed

    async def start(self) -> None:
        self._stopping.clear()
        self._listen_task = asyncio.create_task(self._listen(), name=f"{self.name} listen")
        self._run_task = asyncio.create_task(self._run(), name=f"{self.name} relay")

    def wake(self) -> None:
        """Relay now (call after committing a transaction that added messages)."""
        self._wakeup.set()

    async def stop(self) -> None:
        """Finish the batch in hand (publish and commit, or roll back), then stop."""
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
        """Relay batches until the outbox is empty (or stopping); returns how many were relayed.

        Raises what a failed batch raised, after its rows went back to the outbox.
        """
        total = 0
        while True:
            n = await self._relay_batch()
            total += n
            if n < self._batch_size or self._stopping.is_set():
                return total

    async def _relay_batch(self) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_CLAIM, self._batch_size)
            if not rows:
                return 0
            messages = [_to_message(r) for r in sorted(rows, key=lambda r: r["id"])]
            # The rows stay locked (and deleted only if we commit) while the
            # broker confirms; a failure here rolls the claim back.
            await self._publisher.publish_many(messages)
        self.relayed += len(rows)
        return len(rows)

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            self._wakeup.clear()
            try:
                await self.relay_once()
            except Exception:  # the rows are back in the outbox
                failures += 1
                delay = min(self._max_backoff_s, 0.1 * 2 ** min(failures, 10))
                log.warning("%s relay failed; retrying in %.1f s", self.name, delay, exc_info=True)
                # Not woken by wake(): a burst of notifications must not turn a
                # broker outage into a tight retry loop.
                await _wait(self._stopping, delay)
                continue
            failures = 0
            if self.relayed - self._vacuumed_at >= self._vacuum_every:
                await self._vacuum()
            await _wait(self._wakeup, self._poll_interval_s)

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
        try:
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
            await self._release_listener(conn, channel)

    async def _release_listener(self, conn: Any, channel: str | None) -> None:
        # The pool takes a connection back only without listeners: UNLISTEN,
        # or, when the connection is too broken for that, discard it.
        if channel is not None:
            try:
                await conn.remove_listener(channel, self._on_notify)
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
        self._wakeup.set()


def _to_message(row: asyncpg.Record) -> OutgoingMessage:
    return OutgoingMessage(
        exchange=row["exchange"],
        routing_key=row["routing_key"],
        body=bytes(row["body"]),
        type=row["type"],
        tenant_id=row["tenant_id"],
        message_id=row["message_id"],
        headers=orjson.loads(row["headers"]),
        timestamp=row["created_at"],
    )


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    """Wait for ``event`` up to ``seconds``; whether it was set."""
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        return False
    return True
