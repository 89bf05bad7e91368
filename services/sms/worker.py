"""The sms worker: submits queued messages over SMPP and turns receipts into statuses.

Submission (one batch of ``sms.submit`` commands at a time, each carrying the
messages one tenant had accepted together):
1. claim the batch's messages in one statement (``claim_for_submit``): only
   queued ones are taken, atomically, so a duplicated command is skipped;
2. submit every segment over the SMPP bind, windowed (many in flight);
3. record the acknowledged segments (carrier ids), the ``sent`` transitions
   and their events in one transaction; then the commands are acked.

At-least-once window: a worker killed between an SMSC's ``submit_sm_resp``
and step 3's commit leaves its message claimed but not recorded; the
redelivered command resubmits the segments not recorded, which the SMSC may
then see twice. Nothing else is ever submitted twice.

Receipts (``deliver_sm`` with a receipt) are micro-batched: one transaction
records a batch of them and the transitions they complete, and the SMSC gets
its ``deliver_sm_resp`` only after that commit. Any other ``deliver_sm`` is
an inbound SMS (``services.sms.inbound``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import asyncpg
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind

from libs.addresses import InvalidNumber, destination_address, normalize_sender
from libs.aio import gather_outcomes
from libs.api.sms.v1 import events_pb2
from libs.batching import MicroBatcher
from libs.bus import Delivery, OutboxWriter, Written
from libs.db import TableGrowth
from libs.errors import Unavailable
from libs.faults import Waiting, is_input_fault, outlast
from libs.ratelimit import Pacer
from libs.smpp.encoding import encode_segments
from libs.smpp.errors import SmppError
from libs.smpp.pdu import DeliverSm, SubmitSm, SubmitSmResp
from libs.smpp.receipt import (
    carrier_id_candidates,
    is_receipt,
    normalize_carrier_id,
    receipt_from_deliver_sm,
)
from libs.telemetry import start_span, tracing_on
from services.sms import events, repository
from services.sms import status as st
from services.sms.config import WorkerConfig
from services.sms.inbound import Inbound

log = logging.getLogger("omnigate.sms.worker")
_tracer = trace.get_tracer("omnigate.sms")

REGISTERED_DELIVERY_FINAL = 0x01
_RECORD_ATTEMPTS = 5
ESM_CLASS_UDHI = 0x40


class Submitter(Protocol):
    async def submit(self, pdu: SubmitSm) -> SubmitSmResp: ...


@dataclass(slots=True)
class _Outcome:
    delivery: Delivery
    command: events_pb2.SubmitMessage
    segments: list[repository.SubmittedSegment]
    rejected: SmppError | None = None
    retry: BaseException | None = None
    finished_at: datetime = field(default_factory=lambda: datetime.now(UTC))


_SUBMIT_ONE = events_pb2.SubmitMessage.DESCRIPTOR.full_name


def submit_messages(delivery: Delivery) -> Sequence[events_pb2.SubmitMessage]:
    """The messages a submit command carries (a ``SubmitMessage`` one, if queued by an
    older sms service, else ``SubmitMessages``)."""
    if delivery.type == _SUBMIT_ONE:
        return [events_pb2.SubmitMessage.FromString(delivery.body)]
    messages: Sequence[events_pb2.SubmitMessage]
    messages = events_pb2.SubmitMessages.FromString(delivery.body).messages
    return messages


def submit_weight(delivery: Delivery) -> int:
    """How many messages a submit command carries: the worker sizes its batches by it."""
    return len(submit_messages(delivery))


def _trace_context(delivery: Delivery, command: events_pb2.SubmitMessage) -> Context | None:
    # Each message continues the trace of the request that sent it.
    if command.trace_context and tracing_on():
        return propagate.extract(dict(command.trace_context))
    return delivery.trace_context


class SmsWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: OutboxWriter,
        smpp: Submitter,
        pacer: Pacer | None,
        settings: WorkerConfig,
        inbound: Inbound,
    ) -> None:
        self._pool = pool
        self._inbound = inbound
        self._claim_lease_s = settings.claim_lease_s
        self._outbox = outbox
        self._smpp = smpp
        # Per-sender pacing; None (no sender rate) keeps Redis off the hot path.
        self._pacer = pacer
        self._reference = 0
        # A receipt PostgreSQL refuses (what a carrier sends is input too) must
        # not fail the others batched with it.
        self._receipts: MicroBatcher[repository.SegmentReport, None] = MicroBatcher(
            self._flush_receipts,
            max_size=500,
            max_delay_s=settings.receipt_batch_delay_s,
            split_on=is_input_fault,
        )
        self._growth = TableGrowth(pool)
        self._recording = Waiting("sms worker: recording")
        self._submitting = Waiting("sms worker: submitting over SMPP")

    async def close(self) -> None:
        await self._receipts.close()
        await self._growth.close()

    # -- submission -------------------------------------------------------

    async def handle_submits(self, batch: Sequence[Delivery]) -> dict[Delivery, Exception]:
        """Submit the messages of a batch of commands; returns the commands to retry later.

        A message no longer queued (already sent or final: a duplicate) is
        skipped; one that another attempt holds is retried later (that attempt
        may die). A command is retried whole: what it carries that was
        submitted meanwhile is skipped then.
        """
        commands: list[tuple[Delivery, events_pb2.SubmitMessage]] = []
        seen: set[str] = set()
        for d in batch:
            for command in submit_messages(d):
                if command.message_id not in seen:  # two copies in one batch: one is enough
                    seen.add(command.message_id)
                    commands.append((d, command))
        async with self._pool.acquire() as conn:
            # One statement, so atomic without an explicit transaction (two round trips fewer).
            claims = await repository.claim_for_submit(conn, list(seen), self._claim_lease_s)
            retaken = [mid for mid, before in claims.taken.items() if before]
            already = await repository.submitted_segments(conn, retaken) if retaken else {}
        if retaken:
            log.warning("resubmitting %d messages an earlier attempt took", len(retaken))
        held: dict[Delivery, Exception] = {
            d: Unavailable(f"{c.message_id} is being submitted by another attempt")
            for d, c in commands
            if c.message_id in claims.held
        }
        taken = [(d, c) for d, c in commands if c.message_id in claims.taken]
        waits = [0.0] * len(taken)
        if self._pacer is not None and taken:
            # One booking for the whole batch: a message over its sender's rate waits its turn.
            waits = await self._pacer.waits([c.sender for _, c in taken])
        outcomes = await asyncio.gather(
            *(
                self._submit_message(d, c, already.get(c.message_id, set()), wait_s)
                for (d, c), wait_s in zip(taken, waits, strict=True)
            )
        )
        await self._record_outcomes(outcomes)
        return held | {
            o.delivery: Unavailable(f"{o.command.message_id} not submitted: {o.retry}")
            for o in outcomes
            if o.retry is not None
        }

    async def _submit_message(
        self,
        delivery: Delivery,
        command: events_pb2.SubmitMessage,
        done: set[int],
        wait_s: float = 0.0,
    ) -> _Outcome:
        outcome = _Outcome(delivery, command, [])
        with start_span(
            _tracer,
            "sms submit message",
            context=_trace_context(delivery, command),
            attributes={"omnigate.message.id": command.message_id},
        ):
            if wait_s > 0:
                await asyncio.sleep(wait_s)
            try:
                pdus = self._pdus(command)
            except (InvalidNumber, ValueError) as exc:
                # Validated at the API; reaching here means stored data is bad: fail, never retry.
                outcome.rejected = SmppError(f"cannot encode message: {exc}")
                return outcome
            seqs = [i for i in range(1, len(pdus) + 1) if i not in done]
            results = await gather_outcomes(*(self._submit_segment(pdus[i - 1]) for i in seqs))
        now = outcome.finished_at = datetime.now(UTC)
        for seq, result in zip(seqs, results, strict=True):
            if isinstance(result, SubmitSmResp):
                carrier_id = normalize_carrier_id(result.message_id)
                outcome.segments.append(
                    repository.SubmittedSegment(command.message_id, seq, carrier_id, now)
                )
            elif isinstance(result, SmppError) and not result.retryable:
                outcome.rejected = outcome.rejected or result
            elif isinstance(result, BaseException):
                outcome.retry = outcome.retry or result
        return outcome

    async def _submit_segment(self, pdu: SubmitSm) -> SubmitSmResp:
        with start_span(
            _tracer,
            "smpp submit_sm",
            kind=SpanKind.CLIENT,
            attributes={"network.protocol.name": "smpp", "smpp.destination": pdu.destination_addr},
        ):
            # A bind that is down (the SMSC restarting) is waited for, holding
            # the claim, rather than handing the command back to be retried.
            return await outlast(lambda: self._smpp.submit(pdu), self._submitting)

    def _pdus(self, command: events_pb2.SubmitMessage) -> list[SubmitSm]:
        sender = normalize_sender(command.sender)
        dest, dest_ton, dest_npi = destination_address(command.recipient)
        self._reference = (self._reference + 1) & 0xFF
        encoded = encode_segments(command.body, self._reference)
        return [
            SubmitSm(
                source_addr_ton=sender.ton,
                source_addr_npi=sender.npi,
                source_addr=sender.value,
                dest_addr_ton=dest_ton,
                dest_addr_npi=dest_npi,
                destination_addr=dest,
                esm_class=ESM_CLASS_UDHI if encoded.esm_class_udhi else 0,
                registered_delivery=REGISTERED_DELIVERY_FINAL,
                data_coding=encoded.data_coding,
                short_message=part,
            )
            for part in encoded.parts
        ]

    async def _record_outcomes(self, outcomes: Sequence[_Outcome]) -> None:
        segments = [s for o in outcomes for s in o.segments]
        transitions: list[repository.Transition] = []
        for o in outcomes:
            # The time the carrier answered, not the time the batch is recorded.
            if o.rejected is not None:
                code = str(getattr(o.rejected, "command_status", "") or "")
                transitions.append(
                    repository.Transition(
                        o.command.message_id, st.FAILED, o.finished_at, code, str(o.rejected)
                    )
                )
            elif o.retry is None:
                # With no segment here, an earlier attempt recorded them all: it was sent.
                transitions.append(
                    repository.Transition(o.command.message_id, st.SENT, o.finished_at)
                )
        if not segments and not transitions:
            return
        # Sorted, so that concurrent batches lock segment rows in one order.
        segments.sort(key=lambda s: s.carrier_id)

        async def record() -> tuple[Written, int]:
            attempt = 0
            while True:
                attempt += 1
                try:
                    async with self._pool.acquire() as conn, conn.transaction():
                        # Final statuses of early receipts come after 'sent', in order.
                        due = await repository.record_segments(conn, segments)
                        applied = await repository.apply_transitions(conn, [*transitions, *due])
                        written = await self._outbox.add(
                            conn, [events.status_event(r, t) for r, t in applied]
                        )
                    return written, len(applied)
                except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
                    if attempt == _RECORD_ATTEMPTS:
                        raise
                    log.warning("recording submissions failed (attempt %d); retrying", attempt)
                    await asyncio.sleep(0.05 * attempt)

        # The SMSC has taken these segments: their carrier ids are kept here, and
        # recorded once the database is back however long it is away, since
        # losing them would resubmit the segments (duplicates) and orphan their
        # receipts.
        written, applied = await outlast(record, self._recording)
        self._outbox.committed(written)
        self._growth.added("message_segments", len(segments))
        self._growth.added("message_transitions", applied)

    # -- receipts and inbound messages ------------------------------------

    async def on_deliver(self, pdu: DeliverSm) -> None:
        """Called by the SMPP client; returning lets it answer deliver_sm_resp OK."""
        if is_receipt(pdu):
            receipt = receipt_from_deliver_sm(pdu)
            if receipt is None or not receipt.message_id:
                log.warning("receipt without a message id ignored: %r", pdu.short_message[:80])
                return
            outcome = st.RECEIPT_STAT.get(receipt.stat)
            if outcome is None:
                return  # intermediate (ENROUTE, ACCEPTD): nothing final to record
            err = receipt.err if receipt.err and receipt.err.strip("0") else ""
            await self._receipts.submit(
                repository.SegmentReport(
                    normalize_carrier_id(receipt.message_id),
                    tuple(sorted(carrier_id_candidates(receipt.message_id))),
                    outcome,
                    receipt.stat,
                    err,
                    datetime.now(UTC),
                )
            )
        else:
            await self._inbound.receive(pdu)

    async def _flush_receipts(self, reports: Sequence[repository.SegmentReport]) -> list[None]:
        ordered = sorted(reports, key=lambda r: r.carrier_id)

        async def record() -> tuple[Written, int, int]:
            async with self._pool.acquire() as conn, conn.transaction():
                transitions, early = await repository.apply_segment_reports(conn, ordered)
                applied = await repository.apply_transitions(conn, transitions)
                events_ = [events.status_event(r, t) for r, t in applied]
                return await self._outbox.add(conn, events_), len(applied), early

        # The SMSC waits for its deliver_sm_resp while the database is away; it
        # gets it once the receipts are recorded.
        written, applied, early = await outlast(record, self._recording)
        if early:
            log.info("kept %d receipts that arrived before their submit was recorded", early)
        self._outbox.committed(written)
        self._growth.added("message_transitions", applied)
        return [None] * len(reports)
