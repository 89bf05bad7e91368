"""Numbers as operators assign them and tenants use them: one owner each, send only from yours."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import pytest

from deploy.local.platform import Platform
from libs.bus import Bus, BusConfig
from libs.events import envelope
from libs.ids import new_id
from tests.e2e.conftest import TenantCredentials, auth, create_tenant

pytestmark = pytest.mark.e2e


def _operator(platform: Platform) -> dict[str, str]:
    return {"Authorization": f"Bearer {platform.config.admin_token}"}


async def _assign(
    http: aiohttp.ClientSession, platform: Platform, tenant_id: str, number: str
) -> tuple[int, Any]:
    async with http.post(
        f"/admin/v1/tenants/{tenant_id}/numbers",
        json={"number": number},
        headers=_operator(platform),
    ) as r:
        return r.status, await r.json(content_type=None)


async def _send(http: aiohttp.ClientSession, creds: TenantCredentials, sender: str) -> Any:
    body = {"to": "+447700900000", "from": sender, "body": "from whom?"}
    async with http.post("/v1/messages", json=body, headers=auth(creds)) as r:
        return r.status, await r.json(content_type=None)


@pytest.fixture
async def pair(platform: Platform) -> tuple[TenantCredentials, TenantCredentials]:
    return await create_tenant(platform, "owner"), await create_tenant(platform, "neighbour")


async def test_an_operator_assigns_a_number_and_the_tenant_sees_and_sends_from_it(
    http: aiohttp.ClientSession, platform: Platform, pair: tuple[TenantCredentials, ...]
) -> None:
    owner, _ = pair
    status, number = await _assign(http, platform, owner.tenant_id, "+44 7700 900901")
    assert status == 201, number
    assert number["number"] == "+447700900901"  # normalised to E.164
    assert (number["type"], number["status"], number["sms_url"]) == ("phone_number", "active", None)
    assert number["capabilities"] == {"sms_send": True, "sms_receive": True}
    async with http.get("/v1/numbers", headers=auth(owner)) as r:
        assert r.status == 200
        listed = {n["number"] for n in (await r.json())["data"]}
    assert listed == {owner.number, "+447700900901"}
    async with http.get(f"/v1/numbers/{number['id']}", headers=auth(owner)) as r:
        assert r.status == 200 and (await r.json())["id"] == number["id"]
    status, sent = await _send(http, owner, "+447700900901")
    assert status == 201, sent


async def test_a_number_has_one_owner_and_nobody_sends_from_anothers(
    http: aiohttp.ClientSession, platform: Platform, pair: tuple[TenantCredentials, ...]
) -> None:
    owner, neighbour = pair
    status, problem = await _assign(http, platform, neighbour.tenant_id, owner.number)
    assert status == 409, problem
    status, problem = await _assign(http, platform, owner.tenant_id, owner.number)
    assert status == 409, problem
    status, problem = await _send(http, neighbour, owner.number)
    assert status == 422
    assert [e["field"] for e in problem["errors"]] == ["from"]
    # Nor from a number nobody has.
    status, problem = await _send(http, neighbour, "+447700900902")
    assert status == 422 and problem["errors"][0]["field"] == "from"
    # Another tenant's number is a 404 to a tenant, like one that does not exist.
    async with http.get("/v1/numbers", headers=auth(owner)) as r:
        (mine,) = (await r.json())["data"]
    async with http.get(f"/v1/numbers/{mine['id']}", headers=auth(neighbour)) as r:
        assert r.status == 404
    async with http.patch(
        f"/v1/numbers/{mine['id']}", json={"sms_url": None}, headers=auth(neighbour)
    ) as r:
        assert r.status == 404


async def test_a_released_number_sends_no_more_and_can_go_to_someone_else(
    http: aiohttp.ClientSession, platform: Platform, pair: tuple[TenantCredentials, ...]
) -> None:
    owner, neighbour = pair
    _, number = await _assign(http, platform, owner.tenant_id, "+447700900903")
    async with http.delete(
        f"/admin/v1/tenants/{owner.tenant_id}/numbers/{number['id']}", headers=_operator(platform)
    ) as r:
        assert r.status == 200
        assert (await r.json())["status"] == "released"
    # The sms service learns it from the number.released event, in milliseconds.
    for _ in range(50):
        status, _ = await _send(http, owner, "+447700900903")
        if status == 422:
            break
        await asyncio.sleep(0.1)
    assert status == 422
    status, again = await _assign(http, platform, neighbour.tenant_id, "+447700900903")
    assert status == 201 and again["id"] != number["id"]
    status, _ = await _send(http, neighbour, "+447700900903")
    assert status == 201


async def test_a_tenant_sets_where_replies_go_and_clears_it(
    http: aiohttp.ClientSession, pair: tuple[TenantCredentials, ...]
) -> None:
    owner, _ = pair
    async with http.get("/v1/numbers", headers=auth(owner)) as r:
        (number,) = (await r.json())["data"]
    url = f"/v1/numbers/{number['id']}"
    changes = {"sms_url": "https://example.com/inbound", "voice_url": "https://example.com/v"}
    async with http.patch(url, json=changes, headers=auth(owner)) as r:
        assert r.status == 200
        updated = await r.json()
    assert (updated["sms_url"], updated["voice_url"]) == tuple(changes.values())
    assert updated["sequence"] == number["sequence"] + 1
    async with http.patch(url, json={"sms_url": None}, headers=auth(owner)) as r:
        cleared = await r.json()
    assert (cleared["sms_url"], cleared["voice_url"]) == (None, "https://example.com/v")
    for bad in ({"sms_url": "ftp://example.com"}, {"sms_url": 5}, {"number": "+447700900904"}):
        async with http.patch(url, json=bad, headers=auth(owner)) as r:
            assert r.status == 422, bad


async def test_an_alphanumeric_sender_id_sends_but_takes_no_replies(
    http: aiohttp.ClientSession, platform: Platform, pair: tuple[TenantCredentials, ...]
) -> None:
    owner, neighbour = pair
    brand = f"Acme{owner.tenant_id[-4:]}"
    status, sender_id = await _assign(http, platform, owner.tenant_id, brand)
    assert status == 201, sender_id
    assert sender_id["type"] == "alphanumeric_sender_id"
    assert sender_id["capabilities"]["sms_receive"] is False
    status, _ = await _send(http, owner, brand)
    assert status == 201
    # The same ID in other letters is the same brand: it has its owner.
    status, _ = await _assign(http, platform, neighbour.tenant_id, brand.upper())
    assert status == 409
    async with http.patch(
        f"/v1/numbers/{sender_id['id']}",
        json={"sms_url": "https://example.com/in"},
        headers=auth(owner),
    ) as r:
        assert r.status == 422
        assert (await r.json())["errors"][0]["field"] == "sms_url"


async def test_operator_errors_name_what_is_wrong(
    http: aiohttp.ClientSession, platform: Platform, tenant: TenantCredentials
) -> None:
    status, problem = await _assign(http, platform, tenant.tenant_id, "07700 900905")
    assert status == 422 and problem["errors"][0]["field"] == "number"
    status, problem = await _assign(
        http, platform, "ten_00000000000000000000000000", "+447700900905"
    )
    assert status == 404


async def test_the_cli_assigns_lists_and_releases(
    platform: Platform, tenant: TenantCredentials
) -> None:
    assigned = await platform.admin("assign-number", tenant.tenant_id, "+447700900906")
    assert assigned["number"] == "+447700900906"
    listed = await platform.admin("list-numbers", tenant.tenant_id)
    assert "+447700900906" in {n["number"] for n in listed}
    released = await platform.admin("release-number", tenant.tenant_id, assigned["id"])
    assert released["status"] == "released"
    listed = await platform.admin("list-numbers", tenant.tenant_id)
    assert "+447700900906" not in {n["number"] for n in listed}


async def test_a_number_the_sms_copy_never_heard_of_is_asked_of_the_numbers_service(
    http: aiohttp.ClientSession, platform: Platform, tenant: TenantCredentials
) -> None:
    """As after an upgrade: assignments made before the sms service kept its copy."""
    conn = await asyncpg.connect(platform.config.dsn)
    try:
        await conn.execute(
            "INSERT INTO numbers.numbers (id, tenant_id, address, type, assigned_at, updated_at)"
            " VALUES ($1, $2, '+447700900907', 1, now(), now())",
            new_id("num"),
            tenant.tenant_id,
        )  # no outbox row: no event ever reaches the sms service
    finally:
        await conn.close()
    status, sent = await _send(http, tenant, "+447700900907")
    assert status == 201, sent


async def test_an_operator_lists_and_replays_a_poison_number_event(platform: Platform) -> None:
    """A number.* event the sms service cannot read is dead-lettered with its error."""
    config = platform.config
    poison = envelope.event(
        "numbers", "number.updated", tenant_id="ten_x", subject="num_x", sequence=1,
        time=datetime.now(UTC), data=b"not json",
    )  # fmt: skip
    bus = await Bus.connect(BusConfig(url=config.amqp_url, prefix=config.bus_prefix), name="t")
    async with bus:
        await bus.publisher.publish(poison)
    for _ in range(100):
        letters = await platform.admin("dead-letters", "sms.numbers")
        if letters:
            break
        await asyncio.sleep(0.1)
    (letter,) = letters
    assert letter["message_id"] == poison.message_id
    assert letter["routing_key"] == "numbers.number.updated"
    assert "JSONDecodeError" in letter["error"]
    replayed = await platform.admin("replay-dead-letters", "sms.numbers", "--all")
    assert [r["message_id"] for r in replayed] == [poison.message_id]
    for _ in range(100):  # still poison: back in the dead-letter queue, tried once more
        letters = await platform.admin("dead-letters", "sms.numbers")
        if letters and letters[0]["attempts"] == 1:
            break
        await asyncio.sleep(0.1)
    assert [d["message_id"] for d in letters] == [poison.message_id]
    with pytest.raises(RuntimeError, match="--id"):
        await platform.admin("replay-dead-letters", "sms.numbers")
