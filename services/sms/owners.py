"""Who owns an address: the sms service's copy of the numbers service's assignments.

Sending from an address is allowed only to the tenant it is assigned to,
and an inbound SMS belongs to the tenant that owns its destination. Both
are asked per batch, so the answer comes from this service's own table,
kept from the numbers service's ``number.*`` events (applied in order by
their ``sequence``), and each process remembers what it read until a
change to the table notifies it (``libs.db.invalidation``): a send costs
no statement for this. An address the copy does not know (assigned a
moment ago, its event still on the way) is asked of the numbers service
itself before anyone is refused, and the answer is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import grpc
import orjson

from libs.api.numbers.v1 import numbers_pb2, numbers_pb2_grpc
from libs.bus import Delivery, QueueSpec
from libs.db.invalidation import Remembered, notify
from libs.events import envelope
from libs.grpc.errors import from_rpc_error

# The numbers service's events, consumed by the sms service into its copy.
QUEUE_SPEC = QueueSpec("sms.numbers", events=("numbers.number.*",))
# Every change to the copy, so that each process forgets what it remembered.
CHANGED_CHANNEL = "omnigate_sms_numbers"
# How long a process trusts what it read without a notification (a backstop).
REMEMBER_S = 60.0
# How long SIGTERM waits for events in hand: each is one upsert, and what is
# cut short the broker redelivers.
STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Owned:
    """One assignment of an address to a tenant."""

    id: str
    tenant_id: str
    address: str
    sms_url: str
    sequence: int
    assigned_at: datetime
    released: bool


async def apply(conn: asyncpg.Connection, changes: Sequence[Owned]) -> None:
    """Keep ``changes``; one older than what is kept changes nothing."""
    async with conn.transaction():
        await conn.executemany(
            """INSERT INTO numbers
                   (id, tenant_id, address, sms_url, sequence, assigned_at, released)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (id) DO UPDATE
                  SET sms_url = EXCLUDED.sms_url, sequence = EXCLUDED.sequence,
                      released = EXCLUDED.released
                WHERE numbers.sequence < EXCLUDED.sequence""",
            [
                (o.id, o.tenant_id, o.address, o.sms_url, o.sequence, o.assigned_at, o.released)
                for o in changes
            ],
        )
        await notify(conn, CHANGED_CHANNEL)


async def kept(conn: asyncpg.Connection, addresses: Iterable[str]) -> dict[str, Owned]:
    """The owner of each address the copy knows one for."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (address) id, tenant_id, address, sms_url, sequence, assigned_at,
                  released
             FROM numbers WHERE address = ANY($1::text[]) AND NOT released
            ORDER BY address, assigned_at DESC""",
        list(addresses),
    )
    return {r["address"]: Owned(**dict(r)) for r in rows}


def _from_proto(n: numbers_pb2.Number) -> Owned:
    return Owned(
        n.id,
        n.tenant_id,
        n.address,
        n.sms_url,
        n.sequence,
        datetime.fromtimestamp(n.assigned_at_unix_ms / 1000, UTC),
        n.released,
    )


class Owners:
    """Answers who owns addresses, from what it remembers, then the copy, then the numbers
    service; ``start``/``stop`` run the listener that tells it when to forget."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        numbers: numbers_pb2_grpc.NumbersServiceStub,
        remember_s: float = REMEMBER_S,
    ) -> None:
        self._pool = pool
        self._numbers = numbers
        self._remembered: Remembered[str, Owned] = Remembered(dsn, CHANGED_CHANNEL, remember_s)

    async def start(self) -> None:
        await self._remembered.start()

    async def stop(self) -> None:
        await self._remembered.stop()

    async def of(self, conn: asyncpg.Connection, addresses: Iterable[str]) -> dict[str, Owned]:
        found: dict[str, Owned] = {}
        unknown = []
        for address in set(addresses):
            hit = self._remembered.get(address)
            if hit is None:
                unknown.append(address)
            else:
                found[address] = hit
        if not unknown:
            return found
        generation = self._remembered.generation
        read = await kept(conn, unknown)
        for address, owned in read.items():
            self._remembered.keep(address, owned, generation)
        found |= read
        missing = set(unknown) - read.keys()
        if missing:
            try:
                answer = await self._numbers.ResolveNumbers(
                    numbers_pb2.ResolveNumbersRequest(addresses=sorted(missing))
                )
            except grpc.aio.AioRpcError as exc:
                # The numbers service away is an Outage: the caller's batch fails
                # as one (a 503, or waited out by the worker), not as refused.
                raise from_rpc_error(exc) from exc
            fresh = [_from_proto(n) for n in answer.numbers]
            if fresh:
                await apply(conn, fresh)
                found |= {o.address: o for o in fresh}
        return found

    async def on_event(self, delivery: Delivery) -> None:
        """A ``number.*`` event: keep the change it carries."""
        event = envelope.read(delivery)
        if event is None:
            return
        data = orjson.loads(event.data)
        change = Owned(
            id=data["id"],
            tenant_id=event.tenant_id,
            address=data["number"],
            sms_url=data["sms_url"] or "",
            sequence=int(data["sequence"]),
            assigned_at=datetime.fromisoformat(data["assigned_at"]),
            released=data["status"] == "released",
        )
        async with self._pool.acquire() as conn:
            await apply(conn, [change])
