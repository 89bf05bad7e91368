"""SQL of the sms service: every write takes a batch, every query is tenant-scoped.

Writes take lists because callers micro-batch (``libs.batching``): one
statement per table per batch, using ``unnest`` of arrays, whatever the batch
size. Transitions lock their rows in id order so concurrent batches never
deadlock, and apply only forward moves (``status.can_transition``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from libs.bus import OutgoingMessage, Written, outbox_insert
from services.sms import status as st

MESSAGE_COLUMNS = (
    "id, tenant_id, direction, sender, recipient, encoding, segments, status, sequence,"
    " status_callback, error_code, error_message, created_at, updated_at"
)


@dataclass(frozen=True, slots=True)
class NewMessage:
    id: str
    tenant_id: str
    direction: int
    sender: str
    recipient: str
    body: str
    encoding: int
    segments: int
    status: int
    status_callback: str
    created_at: datetime
    idempotency_key: str | None = None

    def as_row(self) -> dict[str, Any]:
        """The message as ``get_message`` would read it back right after the insert."""
        return {
            "id": self.id,
            "tenant_id": self.tenant_id,
            "direction": self.direction,
            "sender": self.sender,
            "recipient": self.recipient,
            "body": self.body,
            "encoding": self.encoding,
            "segments": self.segments,
            "status": self.status,
            "sequence": 1,
            "status_callback": self.status_callback,
            "error_code": "",
            "error_message": "",
            "created_at": self.created_at,
            "updated_at": self.created_at,
        }

    def first_transition(self) -> dict[str, Any]:
        return {
            "sequence": 1,
            "status": self.status,
            "occurred_at": self.created_at,
            "error_code": "",
            "error_message": "",
        }


@dataclass(frozen=True, slots=True)
class Transition:
    """A requested move of one message to ``status`` (applied only if forward)."""

    message_id: str
    status: int
    occurred_at: datetime
    error_code: str = ""
    error_message: str = ""


@dataclass(frozen=True, slots=True)
class SubmittedSegment:
    message_id: str
    seq: int
    carrier_id: str
    submitted_at: datetime


@dataclass(frozen=True, slots=True)
class SegmentReport:
    """A delivery receipt: its carrier id (canonical) and every form it may be stored under."""

    carrier_id: str
    carrier_ids: tuple[str, ...]
    status: int
    stat: str
    error_code: str
    received_at: datetime


_INSERT_MESSAGES = """
WITH inserted AS (
    INSERT INTO messages (id, tenant_id, direction, sender, recipient, body, encoding, segments,
        status, sequence, status_callback, created_at, updated_at, idempotency_key)
    SELECT i, t, d, s, r, b, e, g, st, 1, cb, c, c, k FROM unnest($1::text[], $2::text[],
        $3::int2[], $4::text[], $5::text[], $6::text[], $7::int2[], $8::int2[], $9::int2[],
        $10::text[], $11::timestamptz[], $12::text[]) AS u(i, t, d, s, r, b, e, g, st, cb, c, k)
    ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id, tenant_id, status, created_at),
history AS (
    INSERT INTO message_transitions (message_id, sequence, status, occurred_at)
    SELECT id, 1, status, created_at FROM inserted)
"""
_PARAMS = 12


@dataclass(frozen=True, slots=True)
class Inserted:
    # For each message not inserted, the id of the message that has its key.
    existing: dict[str, str]
    # The announcements written, for the relay once committed.
    announced: Written


async def insert_messages(
    conn: asyncpg.Connection,
    messages: Sequence[NewMessage],
    announce: Sequence[OutgoingMessage] = (),
    owner: str | None = None,
) -> Inserted:
    """Insert new messages, their first transition (sequence 1) and the outbox
    messages ``announce`` of the tenants whose messages these are (handed to
    the relay ``owner``).

    One statement, so it is atomic without a transaction of its own. A message
    whose (tenant, idempotency key) already exists is not inserted, and an
    announcement is written only if the statement inserted at least one
    message of its tenant, so a repeated request announces nothing.
    """
    if not messages:
        return Inserted({}, Written.of([], []))
    cols = list(
        zip(
            *[
                (
                    m.id, m.tenant_id, m.direction, m.sender, m.recipient, m.body, m.encoding,
                    m.segments, m.status, m.status_callback, m.created_at, m.idempotency_key,
                )
                for m in messages
            ],
            strict=True,
        )
    )  # fmt: skip
    sql = _INSERT_MESSAGES
    # The inserted messages' ids (outbox_id NULL), then each announcement's
    # message id with its outbox row id, for the relay.
    select = " SELECT id, NULL::bigint AS outbox_id FROM inserted"
    if announce:
        outbox, outbox_args = outbox_insert(
            announce,
            first_param=_PARAMS + 1,
            keys=[a.tenant_id for a in announce],
            keys_in="SELECT tenant_id FROM inserted",
            owner=owner,
        )
        sql += f", announced AS ({outbox})"
        select += " UNION ALL SELECT message_id, id FROM announced"
        cols += outbox_args
    rows = await conn.fetch(sql + select, *cols)
    announced = Written.of(
        announce, ((r["outbox_id"], r["id"]) for r in rows if r["outbox_id"] is not None)
    )
    new_ids = {r["id"] for r in rows if r["outbox_id"] is None}
    duplicates = [m for m in messages if m.id not in new_ids]
    if not duplicates:
        return Inserted({}, announced)
    rows = await conn.fetch(
        "SELECT m.id, m.tenant_id, m.idempotency_key FROM messages m"
        " JOIN unnest($1::text[], $2::text[]) AS u(t, k)"
        " ON m.tenant_id = u.t AND m.idempotency_key = u.k",
        [m.tenant_id for m in duplicates], [m.idempotency_key for m in duplicates],
    )  # fmt: skip
    existing = {(r["tenant_id"], r["idempotency_key"]): r["id"] for r in rows}
    return Inserted(
        {m.id: existing[(m.tenant_id, m.idempotency_key)] for m in duplicates}, announced
    )


async def get_message(
    conn: asyncpg.Connection, tenant_id: str, message_id: str
) -> tuple[asyncpg.Record, list[asyncpg.Record]] | None:
    row = await conn.fetchrow(
        f"SELECT {MESSAGE_COLUMNS}, body FROM messages WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        message_id,
    )
    if row is None:
        return None
    history = await conn.fetch(
        "SELECT sequence, status, occurred_at, error_code, error_message"
        " FROM message_transitions WHERE message_id = $1 ORDER BY sequence",
        message_id,
    )
    return row, history


async def list_messages(
    conn: asyncpg.Connection,
    tenant_id: str,
    limit: int,
    before_id: str | None,
    direction: int | None = None,
) -> list[asyncpg.Record]:
    """Newest first; ``before_id`` is the cursor (the last id of the previous page);
    ``direction`` keeps only inbound or only outbound messages."""
    where = ["tenant_id = $1"]
    args: list[object] = [tenant_id]
    if before_id is not None:
        args.append(before_id)
        where.append(f"id < ${len(args)}")
    if direction is not None:
        # A literal, so that the planner can use the partial index of inbound messages.
        where.append(f"direction = {int(direction)}")
    args.append(limit)
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {MESSAGE_COLUMNS}, body FROM messages WHERE {' AND '.join(where)}"
        f" ORDER BY id DESC LIMIT ${len(args)}",
        *args,
    )
    return rows


@dataclass(frozen=True, slots=True)
class Claims:
    """What ``claim_for_submit`` found of a batch's messages."""

    # Taken now -> whether an earlier attempt had taken it (and may have submitted some).
    taken: dict[str, bool]
    # Still queued but held by another attempt whose lease has not expired.
    held: set[str]


async def claim_for_submit(
    conn: asyncpg.Connection, message_ids: Sequence[str], lease_s: float
) -> Claims:
    """Take queued messages for submission, each for at most one attempt at a time.

    A message no longer queued (sent, or final) is in neither set: its command
    is a duplicate. One held by another attempt is left alone until that
    attempt's lease of ``lease_s`` runs out, so two copies of a command never
    submit at once; a worker that died leaves its lease to expire, and the
    next attempt resubmits only the segments it had not recorded.
    """
    rows = await conn.fetch(
        "WITH target AS ("
        "   SELECT id, submit_claimed_at AS prev,"
        "     submit_claimed_at IS NULL OR submit_claimed_at < now() - make_interval(secs => $3)"
        "       AS free"
        "   FROM messages WHERE id = ANY($1::text[]) AND status = $2 ORDER BY id FOR UPDATE),"
        " taken AS ("
        "   UPDATE messages m SET submit_claimed_at = now() FROM target t"
        "   WHERE m.id = t.id AND t.free RETURNING m.id)"
        " SELECT id, prev IS NOT NULL AS taken_before, free FROM target",
        list(message_ids),
        st.QUEUED,
        lease_s,
    )
    return Claims(
        {r["id"]: r["taken_before"] for r in rows if r["free"]},
        {r["id"] for r in rows if not r["free"]},
    )


async def submitted_segments(
    conn: asyncpg.Connection, message_ids: Sequence[str]
) -> dict[str, set[int]]:
    rows = await conn.fetch(
        "SELECT message_id, seq FROM message_segments WHERE message_id = ANY($1::text[])",
        list(message_ids),
    )
    done: dict[str, set[int]] = {}
    for r in rows:
        done.setdefault(r["message_id"], set()).add(r["seq"])
    return done


async def record_segments(
    conn: asyncpg.Connection, segments: Sequence[SubmittedSegment]
) -> list[Transition]:
    """Store acknowledged segments; returns the transitions their early receipts make due.

    A receipt that beat its submit record left a row with this carrier id and
    no message: the upsert completes it (waiting for that receipt's commit if
    it is still running, so neither side misses the other).
    """
    if not segments:
        return []
    rows = await conn.fetch(
        "INSERT INTO message_segments (message_id, seq, carrier_id, submitted_at)"
        " SELECT * FROM unnest($1::text[], $2::int2[], $3::text[], $4::timestamptz[])"
        "   AS u(m, q, c, t)"
        # A segment recorded under another carrier id (submitted twice) keeps the first.
        " WHERE NOT EXISTS (SELECT 1 FROM message_segments x WHERE x.message_id = u.m"
        "   AND x.seq = u.q)"
        " ON CONFLICT (carrier_id) DO UPDATE SET message_id = EXCLUDED.message_id,"
        "   seq = EXCLUDED.seq, submitted_at = EXCLUDED.submitted_at"
        " WHERE message_segments.message_id IS NULL"
        " RETURNING message_id, status",
        [s.message_id for s in segments],
        [s.seq for s in segments],
        [s.carrier_id for s in segments],
        [s.submitted_at for s in segments],
    )
    reported = sorted({r["message_id"] for r in rows if r["status"] is not None})
    return await _due_transitions(conn, reported)


_REPORT_SEGMENTS = """
WITH matched AS (
    UPDATE message_segments s SET status = u.status, stat = u.stat, error_code = u.err,
        reported_at = u.at
    FROM unnest($1::text[], $2::int4[], $3::int2[], $4::text[], $5::text[], $6::timestamptz[])
        AS u(cid, idx, status, stat, err, at)
    WHERE s.carrier_id = u.cid AND s.message_id IS NOT NULL AND s.status IS NULL
    RETURNING s.message_id, s.status, s.error_code, s.reported_at, u.idx)
SELECT matched.*, m.segments FROM matched JOIN messages m ON m.id = matched.message_id
"""


async def apply_segment_reports(
    conn: asyncpg.Connection, reports: Sequence[SegmentReport]
) -> tuple[list[Transition], int]:
    """Record receipts on their segments; returns message transitions now due and
    how many receipts were kept as early (their segment is not recorded yet)."""
    if not reports:
        return [], 0
    # One row per form of each carrier id (hex/decimal), so one statement matches all.
    flat = [(cid, i, r) for i, r in enumerate(reports) for cid in r.carrier_ids]
    matched = await conn.fetch(
        _REPORT_SEGMENTS,
        [c for c, _, _ in flat],
        [i for _, i, _ in flat],
        [r.status for _, _, r in flat],
        [r.stat for _, _, r in flat],
        [r.error_code for _, _, r in flat],
        [r.received_at for _, _, r in flat],
    )
    # A one-segment message is final with its only receipt: no aggregate to read.
    due = [_final(r["message_id"], [r["status"]], r["error_code"], r["reported_at"])
           for r in matched if r["segments"] == 1]  # fmt: skip
    touched = {r["message_id"] for r in matched if r["segments"] != 1}
    matched_idx = {r["idx"] for r in matched}
    unmatched = [r for i, r in enumerate(reports) if i not in matched_idx]
    early = 0
    if unmatched:
        # Kept under the receipt's own form of the id. If the segment's record
        # is committing right now, this waits for it and completes its row.
        rows = await conn.fetch(
            "INSERT INTO message_segments (carrier_id, status, stat, error_code, reported_at)"
            " SELECT * FROM unnest($1::text[], $2::int2[], $3::text[], $4::text[],"
            " $5::timestamptz[])"
            " ON CONFLICT (carrier_id) DO UPDATE SET status = EXCLUDED.status,"
            "   stat = EXCLUDED.stat, error_code = EXCLUDED.error_code,"
            "   reported_at = EXCLUDED.reported_at"
            " WHERE message_segments.status IS NULL"
            " RETURNING message_id",
            [r.carrier_id for r in unmatched],
            [r.status for r in unmatched],
            [r.stat for r in unmatched],
            [r.error_code for r in unmatched],
            [r.received_at for r in unmatched],
        )
        early = sum(1 for r in rows if r["message_id"] is None)
        touched |= {r["message_id"] for r in rows if r["message_id"] is not None}
    touched -= {t.message_id for t in due}
    return due + await _due_transitions(conn, sorted(touched)), early


def _final(message_id: str, outcomes: list[int], code: str | None, at: datetime) -> Transition:
    """The transition a message makes once every one of its segments has reported."""
    final = st.aggregate_segments(outcomes)
    return Transition(message_id, final, at, "" if final == st.DELIVERED else (code or ""))


async def _due_transitions(conn: asyncpg.Connection, message_ids: list[str]) -> list[Transition]:
    """The final transitions of those messages whose every segment has reported."""
    if not message_ids:
        return []
    rows = await conn.fetch(
        "SELECT m.id, m.segments, array_agg(s.status ORDER BY s.seq) AS outcomes,"
        " max(s.error_code) FILTER (WHERE s.error_code <> '') AS error_code,"
        " max(s.reported_at) AS at"
        " FROM messages m JOIN message_segments s ON s.message_id = m.id"
        " WHERE m.id = ANY($1::text[]) AND s.status IS NOT NULL GROUP BY m.id, m.segments",
        message_ids,
    )
    # Those whose other segments' receipts are still to come are not due.
    return [
        _final(r["id"], list(r["outcomes"]), r["error_code"], r["at"])
        for r in rows
        if len(r["outcomes"]) >= r["segments"]
    ]


async def apply_transitions(
    conn: asyncpg.Connection, transitions: Sequence[Transition]
) -> list[tuple[dict[str, Any], Transition]]:
    """Apply the forward ones; returns (updated message row, transition) for each applied.

    Several transitions of one message in one batch are applied in order.
    """
    if not transitions:
        return []
    ids = sorted({t.message_id for t in transitions})
    if len(ids) == len(transitions):
        return await _apply_one_each(conn, transitions)
    rows = await conn.fetch(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE",
        ids,
    )
    current: dict[str, dict[str, Any]] = {r["id"]: dict(r) for r in rows}
    applied: list[tuple[dict[str, Any], Transition]] = []
    for t in transitions:
        row = current.get(t.message_id)
        if row is None or not st.can_transition(row["status"], t.status):
            continue
        row["status"] = t.status
        row["sequence"] += 1
        row["error_code"] = t.error_code
        row["error_message"] = t.error_message
        row["updated_at"] = t.occurred_at
        applied.append((dict(row), t))
    if not applied:
        return []
    last = {str(r["id"]): r for r, _ in applied}
    # The rows are locked above; the update and the history rows go in one statement.
    await conn.execute(
        "WITH updated AS ("
        " UPDATE messages m SET status = u.status, sequence = u.sequence, error_code = u.code,"
        "   error_message = u.msg, updated_at = u.at"
        " FROM unnest($1::text[], $2::int2[], $3::int4[], $4::text[], $5::text[],"
        "   $6::timestamptz[]) AS u(id, status, sequence, code, msg, at) WHERE m.id = u.id)"
        " INSERT INTO message_transitions"
        " (message_id, sequence, status, occurred_at, error_code, error_message)"
        " SELECT * FROM unnest($7::text[], $8::int4[], $9::int2[], $10::timestamptz[],"
        " $11::text[], $12::text[])",
        list(last),
        [r["status"] for r in last.values()],
        [r["sequence"] for r in last.values()],
        [r["error_code"] for r in last.values()],
        [r["error_message"] for r in last.values()],
        [r["updated_at"] for r in last.values()],
        [t.message_id for _, t in applied],
        [r["sequence"] for r, _ in applied],
        [t.status for _, t in applied],
        [t.occurred_at for _, t in applied],
        [t.error_code for _, t in applied],
        [t.error_message for _, t in applied],
    )
    return applied


# Rank of each status number (status.can_transition in SQL: only a higher rank applies).
RANKS_BY_STATUS = [st.rank(n) for n in range(max(st.NAMES) + 1)]

_APPLY_ONE_EACH = f"""
WITH u AS (
    SELECT * FROM unnest($1::text[], $2::int2[], $3::timestamptz[], $4::text[], $5::text[])
        AS u(id, status, at, code, msg)),
-- Locked in id order, as every writer of messages locks them, so batches never deadlock.
locked AS (
    SELECT id, status FROM messages WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE),
updated AS (
    UPDATE messages m SET status = u.status, sequence = m.sequence + 1, error_code = u.code,
        error_message = u.msg, updated_at = u.at
    FROM u JOIN locked l ON l.id = u.id
    WHERE m.id = u.id AND ($6::int2[])[l.status + 1] < ($6::int2[])[u.status + 1]
    RETURNING {", ".join("m." + c.strip() for c in MESSAGE_COLUMNS.split(","))}),
history AS (
    INSERT INTO message_transitions
        (message_id, sequence, status, occurred_at, error_code, error_message)
    SELECT id, sequence, status, updated_at, error_code, error_message FROM updated)
SELECT * FROM updated
"""


async def _apply_one_each(
    conn: asyncpg.Connection, transitions: Sequence[Transition]
) -> list[tuple[dict[str, Any], Transition]]:
    """``apply_transitions`` for a batch with one transition per message: one statement."""
    rows = await conn.fetch(
        _APPLY_ONE_EACH,
        [t.message_id for t in transitions],
        [t.status for t in transitions],
        [t.occurred_at for t in transitions],
        [t.error_code for t in transitions],
        [t.error_message for t in transitions],
        RANKS_BY_STATUS,
    )
    # In the order asked, as the general path answers.
    found = {r["id"]: dict(r) for r in rows}
    return [(found[t.message_id], t) for t in transitions if t.message_id in found]


@dataclass(frozen=True, slots=True)
class InboundPart:
    """One part of a concatenated inbound SMS, keyed as TS 23.040 keys it."""

    recipient: str
    sender: str
    reference: int
    total: int
    seq: int
    text: str


_GROUP = "recipient = $1 AND sender = $2 AND reference = $3 AND total = $4"


async def add_inbound_part(
    conn: asyncpg.Connection, part: InboundPart, received_at: datetime, window_s: float
) -> str | None:
    """Keep ``part``; the whole text when it was the last one missing, else None (parts
    missing, or this part came before: the SMSC sent it again). In the caller's
    transaction, which stores the message when a text comes back.

    A group completed more than ``window_s`` ago is over: its reference may
    be used again by a new message.
    """
    key = (part.recipient, part.sender, part.reference, part.total)
    # Parts of one group arrive on any bind, any worker: one at a time, or two
    # last parts could each miss the other's row.
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "inbound|" + repr(key)
    )
    await conn.execute(
        f"DELETE FROM inbound_parts WHERE {_GROUP}"
        " AND completed_at < $5::timestamptz - make_interval(secs => $6)",
        *key,
        received_at,
        window_s,
    )
    inserted = await conn.fetchval(
        """INSERT INTO inbound_parts (recipient, sender, reference, total, seq, text, received_at)
           SELECT $1, $2, $3, $4, $5, $6, $7
            WHERE NOT EXISTS (SELECT 1 FROM inbound_parts
                               WHERE recipient = $1 AND sender = $2 AND reference = $3
                                 AND total = $4 AND completed_at IS NOT NULL)
           ON CONFLICT DO NOTHING RETURNING 1""",
        *key,
        part.seq,
        part.text,
        received_at,
    )
    if inserted is None:
        return None
    rows = await conn.fetch(f"SELECT text FROM inbound_parts WHERE {_GROUP} ORDER BY seq", *key)
    if len(rows) < part.total:
        return None
    await conn.execute(
        f"UPDATE inbound_parts SET completed_at = $5, text = '' WHERE {_GROUP}", *key, received_at
    )
    return "".join(r["text"] for r in rows)
