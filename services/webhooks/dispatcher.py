"""From events to webhook deliveries: attempted at once, recorded, retried from the DB.

For each event envelope the bus hands over (from any service: this knows no
channel), the destinations are the tenant's enabled endpoints whose event
types match its type, plus the resource's own callback URL (a message's
``status_callback``), signed with the tenant's signing secret. Each
gets its first attempt straight away; then the delivery, in the state that
attempt left it, and the attempt are recorded in one statement per
micro-batch, committed before the event is acked, so nothing accepted is
lost. A delivery's id (its ``webhook-id``) is derived from the event and the
destination, so an event delivered again (the process died before the ack)
is attempted again under the same ``webhook-id``, which receivers dedupe on;
one that an earlier run already recorded is left to that record.

Failed deliveries stay ``pending`` with a ``next_attempt_at``; the poller claims
due ones (``FOR UPDATE SKIP LOCKED``), so retries survive restarts and are
shared by every sender process. It polls every ``poll_interval_s``, sooner
when a retry this process scheduled comes due or a re-send is NOTIFYed.

Tenants' endpoints and secrets are cached for a few seconds, and dropped
at once when the edge NOTIFYs a change to a tenant's endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg

from libs.aio import gather
from libs.batching import MicroBatcher
from libs.bus.message import Delivery
from libs.db import TableGrowth
from libs.events import envelope
from libs.faults import Waiting, outlast
from libs.ids import derived_id, new_id
from services.webhooks import endpoints, signing_secrets, store
from services.webhooks.config import WebhookConfig
from services.webhooks.endpoints import Endpoint
from services.webhooks.retries import FAILED, Decision, decide
from services.webhooks.sender import WebhookSender, payload
from services.webhooks.store import AttemptRecord, Job, NewDelivery

log = logging.getLogger("omnigate.webhooks")

CACHE_TTL_S = 5.0
# How long past its timeout an attempt in progress keeps its delivery from the poller.
LEASE_MARGIN_S = 30.0
_CLAIM_BATCH = 500
# How long first attempts gather before they are recorded together. The
# receiver has its webhook by then, so waiting costs it nothing; each record
# is a commit (a WAL flush) and each event's ack waits for it, so fewer,
# larger records mean fewer commits and fewer, larger multiple-acks
# (make bench, 15,000 messages: 0.18 statements per message at 5 ms, 0.10
# at 50 ms, and 0.1-0.3 ms less CPU per message in all).
FIRST_RECORD_DELAY_S = 0.05


@dataclass(frozen=True, slots=True)
class _TenantHooks:
    expires: float
    secret: str | None
    endpoints: tuple[Endpoint, ...]


class TenantCache:
    """Each tenant's signing secret and webhook endpoints, for ``ttl_s`` or until NOTIFYed."""

    def __init__(self, pool: asyncpg.Pool, ttl_s: float = CACHE_TTL_S) -> None:
        self._pool = pool
        self._ttl_s = ttl_s
        self._cache: dict[str, _TenantHooks] = {}
        # Lookups in progress: every event of a tenant whose entry expired waits
        # for one query instead of sending its own.
        self._loading: dict[str, asyncio.Future[_TenantHooks]] = {}

    def invalidate(self, tenant_id: str | None = None) -> None:
        if tenant_id is None:
            self._cache.clear()
        else:
            self._cache.pop(tenant_id, None)

    async def get_many(self, tenant_ids: Sequence[str]) -> dict[str, _TenantHooks]:
        now = time.monotonic()
        found = {t: h for t in tenant_ids if (h := self._cache.get(t)) and h.expires > now}
        missing = sorted(set(tenant_ids) - found.keys())
        if missing:
            async with self._pool.acquire() as conn:
                secrets = await signing_secrets.of_tenants(conn, missing)
                of_tenant = await endpoints.of_tenants(conn, missing)
            for t in missing:
                hooks = _TenantHooks(now + self._ttl_s, secrets.get(t), tuple(of_tenant[t]))
                self._cache[t] = found[t] = hooks
        return found

    async def get(self, tenant_id: str) -> _TenantHooks:
        hooks = self._cache.get(tenant_id)
        if hooks is not None and hooks.expires > time.monotonic():
            return hooks
        loading = self._loading.get(tenant_id)
        if loading is not None:
            return await asyncio.shield(loading)
        future: asyncio.Future[_TenantHooks] = asyncio.get_running_loop().create_future()
        self._loading[tenant_id] = future
        try:
            hooks = (await self.get_many([tenant_id]))[tenant_id]
            future.set_result(hooks)
            return hooks
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: only the waiters (if any) see it raised
            raise
        finally:
            del self._loading[tenant_id]


@dataclass
class Dispatcher:
    pool: asyncpg.Pool
    sender: WebhookSender
    config: WebhookConfig
    cache: TenantCache = field(init=False)
    _firsts: MicroBatcher[tuple[NewDelivery, AttemptRecord], None] = field(init=False)
    _records: MicroBatcher[AttemptRecord, None] = field(init=False)
    _tasks: set[asyncio.Task[None]] = field(init=False, default_factory=set)
    # Set while fewer than ``concurrency`` attempts are in progress.
    _room: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    _wake: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    _stopping: bool = field(init=False, default=False)
    _poller: asyncio.Task[None] | None = field(init=False, default=None)
    _listener: asyncpg.Connection | None = field(init=False, default=None)
    _growth: TableGrowth = field(init=False)

    def __post_init__(self) -> None:
        self.cache = TenantCache(self.pool)
        self._growth = TableGrowth(self.pool)
        self._firsts = MicroBatcher(
            self._record_first, max_size=500, max_delay_s=FIRST_RECORD_DELAY_S
        )
        self._records = MicroBatcher(self._record, max_size=500, max_delay_s=0.005)
        self._saving = Waiting("webhooks: recording attempts")
        # Deliveries whose first attempt is being made and recorded, by this process.
        self._sending: set[str] = set()
        self._lease_s = self.config.timeout_s + LEASE_MARGIN_S
        self._room.set()

    async def start(self) -> None:
        self._listener = await self.pool.acquire()
        await self._listener.add_listener(endpoints.NOTIFY_CHANNEL, self._on_notify)
        await self._listener.add_listener(store.DUE_CHANNEL, self._on_notify)
        self._poller = asyncio.create_task(self._poll(), name="webhooks poller")

    async def stop(self, grace_s: float = 10.0) -> None:
        """Finish (or leave to a later poller) the attempts in progress and record them."""
        self._stopping = True
        self._wake.set()
        self._room.set()
        if self._poller is not None:
            await self._poller
        if self._tasks:
            _, late = await asyncio.wait(list(self._tasks), timeout=grace_s)
            for task in late:
                # Its delivery's lease runs out and the poller tries it again.
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._firsts.close()
        await self._records.close()
        await self._growth.close()
        if self._listener is not None:
            # The pool takes back only a connection that no longer listens.
            await self._listener.remove_listener(endpoints.NOTIFY_CHANNEL, self._on_notify)
            await self._listener.remove_listener(store.DUE_CHANNEL, self._on_notify)
            await self.pool.release(self._listener)

    def _stopped(self) -> bool:
        return self._stopping

    # -- events from the bus -------------------------------------------------

    async def handle(self, delivery: Delivery) -> None:
        """The bus handler: returns (and the event is acked) once its deliveries are recorded."""
        event = envelope.read(delivery)
        if event is None:
            return  # not a tenant-visible fact
        hooks = await self.cache.get(event.tenant_id)
        # Another copy of this event (published again after a broker outage) is
        # being sent here right now: that one records them.
        new = [d for d in _destinations(event, hooks) if d.id not in self._sending]
        if new and delivery.maybe_seen:
            # An earlier run may have recorded some: those are settled or the poller's.
            async with self.pool.acquire() as conn:
                recorded = await store.recorded(conn, [d.id for d in new])
            new = [d for d in new if d.id not in recorded]
        ids = [d.id for d in new]
        self._sending.update(ids)
        try:
            attempted = await gather(*(self._first_attempt(d, hooks) for d in new))
            # Sent: recorded once the database is back, however long it is away. Failing
            # the handler instead would have it run again and send them all a second time.
            await gather(*(self._record_sent(a) for a in attempted if a is not None))
        finally:
            self._sending.difference_update(ids)

    async def _record_sent(self, attempted: tuple[NewDelivery, AttemptRecord]) -> None:
        await outlast(lambda: self._firsts.submit(attempted), self._saving, stopping=self._stopped)

    async def _first_attempt(
        self, new: NewDelivery, hooks: _TenantHooks
    ) -> tuple[NewDelivery, AttemptRecord] | None:
        job = Job(new.id, new.tenant_id, new.endpoint_id, new.url, new.payload, 0)
        record = await self._try(job, hooks)
        return None if record is None else (new, record)

    async def _record_first(self, items: Sequence[tuple[NewDelivery, AttemptRecord]]) -> list[None]:
        async with self.pool.acquire() as conn:
            await store.record_first(conn, items)
        self._growth.added("webhook_deliveries", len(items))
        self._growth.added("webhook_attempts", len(items))
        self._forget_gone_endpoints([r for _, r in items])
        return [None] * len(items)

    # -- attempts --------------------------------------------------------------

    def _spawn(self, job: Job) -> None:
        task = asyncio.create_task(self._attempt(job), name=f"webhook {job.id}")
        self._tasks.add(task)
        if len(self._tasks) >= self.config.concurrency:
            self._room.clear()
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if len(self._tasks) < self.config.concurrency:
            self._room.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook attempt crashed", exc_info=task.exception())

    async def _attempt(self, job: Job) -> None:
        record = await self._try(job, await self.cache.get(job.tenant_id))
        if record is not None:
            await self._save(record)

    async def _try(self, job: Job, hooks: _TenantHooks) -> AttemptRecord | None:
        """One attempt of ``job``; what to record of it (None: its endpoint was deleted)."""
        if job.endpoint_id is None:
            assert job.url is not None
            url = job.url
            secrets = [hooks.secret] if hooks.secret else []
        else:
            ep = next((e for e in hooks.endpoints if e.id == job.endpoint_id), None)
            if ep is None:
                # Deleted: its deliveries went with it.
                return None
            if ep.disabled:
                return AttemptRecord(job.id, Decision(FAILED, job.retries, None), ep.id)
            url = ep.url
            secrets = ep.signing_secrets(datetime.now(UTC))
        outcome = await self.sender.post(url, job.id, secrets, job.payload)
        decision = decide(outcome, job.retries, self.config.retry_delays_s)
        if decision.next_attempt_at is not None:
            self._wake_at(decision.next_attempt_at)
        return AttemptRecord(job.id, decision, job.endpoint_id, new_id("att"), url, outcome)

    async def _save(self, rec: AttemptRecord) -> None:
        try:
            # A webhook sent is recorded once the database is back: sending it
            # again would be a duplicate the receiver has to drop.
            await outlast(lambda: self._records.submit(rec), self._saving, stopping=self._stopped)
        except Exception:
            # The lease runs out and the poller attempts it again: at least once, not lost.
            log.exception("could not record the attempt of webhook %s", rec.delivery_id)

    async def _record(self, records: Sequence[AttemptRecord]) -> list[None]:
        async with self.pool.acquire() as conn:
            await store.record(conn, records)
        self._growth.added("webhook_attempts", len(records))
        self._forget_gone_endpoints(records)
        return [None] * len(records)

    def _forget_gone_endpoints(self, records: Sequence[AttemptRecord]) -> None:
        # Their endpoints were disabled with the record: cached ones must not be used.
        if any(r.decision.disable_endpoint for r in records):
            self.cache.invalidate()

    # -- the retry poller ----------------------------------------------------

    def _on_notify(self, conn: object, pid: int, channel: str, payload: str) -> None:
        if channel == endpoints.NOTIFY_CHANNEL:
            self.cache.invalidate(payload or None)
        else:
            self._wake.set()

    def _wake_at(self, when: datetime) -> None:
        delay = (when - datetime.now(UTC)).total_seconds()
        if delay < self.config.poll_interval_s:
            # A little late rather than early: the row must be due when claimed.
            asyncio.get_running_loop().call_later(max(0.0, delay) + 0.02, self._wake.set)

    async def _poll(self) -> None:
        while not self._stopping:
            # Cleared before claiming, so a wake-up during the claim is not lost.
            self._wake.clear()
            await self._room.wait()
            want = min(self.config.concurrency - len(self._tasks), _CLAIM_BATCH)
            try:
                async with self.pool.acquire() as conn:
                    jobs = await store.claim_due(conn, want, self._lease_s)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.exception("claiming due webhooks failed; trying again")
                jobs = []
            for job in jobs:
                self._spawn(job)
            if jobs and len(jobs) == want:
                continue  # there may be more due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.poll_interval_s)


def _destinations(event: envelope.Event, hooks: _TenantHooks) -> list[NewDelivery]:
    """The deliveries an event makes: its callback URL and each endpoint that wants it."""
    body = payload(event)
    found: list[NewDelivery] = []
    if event.callback_url:
        # The event's own id: the webhook-id status_callback receivers always got.
        found.append(
            NewDelivery(
                event.id, event.tenant_id, None, event.callback_url, event.id, event.type, body
            )
        )
    for ep in hooks.endpoints:
        if ep.wants(event.type):
            found.append(
                NewDelivery(
                    derived_id("dlv", event.id, ep.id),
                    event.tenant_id,
                    ep.id,
                    None,
                    event.id,
                    event.type,
                    body,
                )
            )
    return found
