"""The numbers service against the real PostgreSQL: one owner per address, every change an event."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import orjson
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from libs.api.events.v1 import events_pb2
from libs.api.numbers.v1 import numbers_pb2 as pb
from libs.errors import AlreadyExists, InvalidArgument, NotFound
from services.numbers.schema import MIGRATIONS
from services.numbers.servicer import NumbersServicer
from tests.helpers.infra import schema_pool
from tests.helpers.outbox import TableOutbox

pytestmark = pytest.mark.integration


@pytest.fixture
async def numbers(database_dsn: str) -> AsyncIterator[tuple[NumbersServicer, asyncpg.Pool]]:
    async with schema_pool(database_dsn, "numbers", MIGRATIONS) as pool:
        yield NumbersServicer(pool, TableOutbox()), pool


async def _events(pool: asyncpg.Pool) -> list[events_pb2.Event]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT body FROM outbox ORDER BY id")
    return [events_pb2.Event.FromString(r["body"]) for r in rows]


async def test_assign_update_release_each_publish_their_event_in_sequence(
    numbers: tuple[NumbersServicer, asyncpg.Pool],
) -> None:
    api, pool = numbers
    n = await api.AssignNumber(
        pb.AssignNumberRequest(tenant_id="ten_a", address="+447700900150"), None
    )
    assert (n.address, n.type, n.sequence) == ("+447700900150", pb.NUMBER_TYPE_PHONE_NUMBER, 1)
    n = await api.UpdateNumber(
        pb.UpdateNumberRequest(
            tenant_id="ten_a",
            id=n.id,
            number=pb.NumberFields(sms_url="https://example.com/in"),
            update_mask=FieldMask(paths=["sms_url"]),
        ),
        None,
    )
    assert (n.sms_url, n.sequence) == ("https://example.com/in", 2)
    n = await api.ReleaseNumber(pb.NumberRequest(tenant_id="ten_a", id=n.id), None)
    assert n.released and n.sequence == 3
    events = await _events(pool)
    assert [(e.type, e.sequence, e.subject) for e in events] == [
        ("number.assigned", 1, n.id),
        ("number.updated", 2, n.id),
        ("number.released", 3, n.id),
    ]
    assert {e.tenant_id for e in events} == {"ten_a"}
    assert orjson.loads(events[1].data)["sms_url"] == "https://example.com/in"


async def test_an_address_has_one_owner_until_released(
    numbers: tuple[NumbersServicer, asyncpg.Pool],
) -> None:
    api, _ = numbers
    first = await api.AssignNumber(pb.AssignNumberRequest(tenant_id="ten_a", address="ACME"), None)
    with pytest.raises(AlreadyExists, match="another tenant"):
        await api.AssignNumber(pb.AssignNumberRequest(tenant_id="ten_b", address="Acme"), None)
    resolved = await api.ResolveNumbers(pb.ResolveNumbersRequest(addresses=["ACME", "Acme"]), None)
    assert [(n.address, n.tenant_id) for n in resolved.numbers] == [("ACME", "ten_a")]
    await api.ReleaseNumber(pb.NumberRequest(tenant_id="ten_a", id=first.id), None)
    again = await api.AssignNumber(pb.AssignNumberRequest(tenant_id="ten_b", address="Acme"), None)
    assert again.id != first.id
    resolved = await api.ResolveNumbers(pb.ResolveNumbersRequest(addresses=["Acme"]), None)
    assert [n.tenant_id for n in resolved.numbers] == ["ten_b"]


async def test_another_tenants_number_is_not_found(
    numbers: tuple[NumbersServicer, asyncpg.Pool],
) -> None:
    api, _ = numbers
    n = await api.AssignNumber(
        pb.AssignNumberRequest(tenant_id="ten_a", address="+447700900151"), None
    )
    with pytest.raises(NotFound):
        await api.GetNumber(pb.NumberRequest(tenant_id="ten_b", id=n.id), None)
    with pytest.raises(NotFound):
        await api.ReleaseNumber(pb.NumberRequest(tenant_id="ten_b", id=n.id), None)
    page = await api.ListNumbers(pb.ListNumbersRequest(tenant_id="ten_b"), None)
    assert not page.numbers


async def test_bad_input_names_its_field(numbers: tuple[NumbersServicer, asyncpg.Pool]) -> None:
    api, _ = numbers
    with pytest.raises(InvalidArgument) as bad:
        await api.AssignNumber(
            pb.AssignNumberRequest(tenant_id="ten_a", address="07700900152"), None
        )
    assert [v.field for v in bad.value.violations] == ["number"]
    sender = await api.AssignNumber(pb.AssignNumberRequest(tenant_id="ten_a", address="INFO"), None)
    with pytest.raises(InvalidArgument) as bad:
        await api.UpdateNumber(
            pb.UpdateNumberRequest(
                tenant_id="ten_a",
                id=sender.id,
                number=pb.NumberFields(sms_url="https://example.com/in", status_callback="x y"),
                update_mask=FieldMask(paths=["sms_url", "status_callback", "colour"]),
            ),
            None,
        )
    assert [v.field for v in bad.value.violations] == ["sms_url", "status_callback", "colour"]
