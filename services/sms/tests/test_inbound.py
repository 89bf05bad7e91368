"""Reassembling concatenated inbound SMS against the real PostgreSQL, and reading parts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from libs.smpp.encoding import Concatenation
from libs.smpp.pdu import ESM_CLASS_UDHI, DeliverSm, Tag, tlv_u8, tlv_u16
from services.sms import repository as repo
from services.sms.inbound import read_part
from services.sms.schema import MIGRATIONS
from tests.helpers.infra import schema_pool

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
WINDOW_S = 600.0


@pytest.fixture
async def pool(database_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    async with schema_pool(database_dsn, "sms", MIGRATIONS) as pool:
        yield pool


def _part(seq: int, total: int = 3, reference: int = 7) -> repo.InboundPart:
    return repo.InboundPart("+447700900100", "+447700900555", reference, total, seq, f"<{seq}>")


async def _add(pool: asyncpg.Pool, part: repo.InboundPart, at: datetime = T0) -> str | None:
    async with pool.acquire() as conn, conn.transaction():
        return await repo.add_inbound_part(conn, part, at, WINDOW_S)


@pytest.mark.integration
async def test_parts_in_any_order_make_one_text_and_a_part_sent_again_makes_none(
    pool: asyncpg.Pool,
) -> None:
    assert await _add(pool, _part(3)) is None
    assert await _add(pool, _part(1)) is None
    assert await _add(pool, _part(1)) is None  # the SMSC sent it twice
    assert await _add(pool, _part(2)) == "<1><2><3>"
    # The last part again, soon after: a repeat, not a new message.
    assert await _add(pool, _part(2), T0 + timedelta(seconds=30)) is None
    # Long after, the same reference is a new message.
    later = T0 + timedelta(seconds=WINDOW_S + 1)
    assert await _add(pool, _part(1), later) is None
    assert await _add(pool, _part(2), later) is None
    assert await _add(pool, _part(3), later) == "<1><2><3>"


@pytest.mark.integration
async def test_the_last_two_parts_arriving_at_once_complete_the_text_once(
    pool: asyncpg.Pool,
) -> None:
    for round_ in range(10):
        await _add(pool, _part(1, reference=round_))
        texts = await asyncio.gather(
            _add(pool, _part(2, reference=round_)), _add(pool, _part(3, reference=round_))
        )
        assert sorted(texts, key=str) == ["<1><2><3>", None]


def _deliver(**fields: object) -> DeliverSm:
    base: dict[str, object] = {
        "source_addr_ton": 1,
        "source_addr": "447700900555",
        "destination_addr": "447700900100",
    }
    return DeliverSm(**(base | fields))  # type: ignore[arg-type]


def test_a_part_is_read_from_its_udh_or_its_sar_parameters() -> None:
    udh = _deliver(esm_class=ESM_CLASS_UDHI, short_message=b"\x05\x00\x03\x2a\x02\x01Hello")
    assert read_part(udh).concatenation == Concatenation(0x2A, 2, 1)
    assert read_part(udh).text == "Hello"
    sar = _deliver(
        short_message=b"World",
        tlvs={
            Tag.SAR_MSG_REF_NUM: tlv_u16(0x1234),
            Tag.SAR_TOTAL_SEGMENTS: tlv_u8(2),
            Tag.SAR_SEGMENT_SEQNUM: tlv_u8(2),
        },
    )
    part = read_part(sar)
    assert (part.text, part.concatenation) == ("World", Concatenation(0x1234, 2, 2))
    assert (part.sender, part.recipient) == ("+447700900555", "+447700900100")


def test_a_whole_text_in_message_payload_and_a_nul_in_latin1_are_read() -> None:
    payload = _deliver(tlvs={Tag.MESSAGE_PAYLOAD: b"long text in the payload"})
    assert read_part(payload).text == "long text in the payload"
    latin1 = _deliver(data_coding=0x03, short_message=b"caf\xe9\x00!")
    assert read_part(latin1).text == "café\ufffd!"  # PostgreSQL cannot hold the NUL
