"""The dev SMSC, driven by a raw PDU stream, by SmppClient and by the independent smpplib."""

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import smpplib.client
import smpplib.consts
import smpplib.exceptions

from libs.config import load
from libs.smpp import pdu as p
from libs.smpp import status as st
from libs.smpp.client import SmppClient
from libs.smpp.config import SmppBindConfig
from libs.smpp.gsm7 import decode_gsm7
from libs.smpp.receipt import receipt_from_deliver_sm
from services.devsmsc.config import DevSmscConfig
from services.devsmsc.server import DevSmsc, start_smsc

CONFIG = DevSmscConfig(
    port=0, control_port=-1, receipt_delay_s=0.05, slow_receipt_delay_s=0.4, redeliver_delay_s=0.05
)


@pytest.fixture
async def smsc() -> AsyncIterator[DevSmsc]:
    server = await start_smsc(CONFIG)
    yield server
    await server.close()


class RawEsme:
    """A minimal ESME over our codec, for exact control of what is sent."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.seq = 0
        self.ack_status = st.ESME_ROK

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, port: int) -> AsyncIterator["RawEsme"]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            yield cls(reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def send(self, pdu: p.Pdu) -> int:
        self.seq += 1
        self.writer.write(p.encode(pdu, self.seq))
        return self.seq

    async def recv(self, kind: type[p.Pdu], within: float = 3.0) -> Any:
        """The next PDU of ``kind``; deliver_sm on the way are acked with ``ack_status``."""
        async with asyncio.timeout(within):
            while True:
                pdu = await p.read_pdu(self.reader)
                if isinstance(pdu, p.DeliverSm) and kind is not p.DeliverSm:
                    self.writer.write(
                        p.encode(
                            p.DeliverSmResp(
                                sequence_number=pdu.sequence_number, command_status=self.ack_status
                            )
                        )
                    )
                if isinstance(pdu, kind):
                    return pdu

    async def request(self, pdu: p.Pdu, kind: type[p.Pdu]) -> Any:
        self.send(pdu)
        return await self.recv(kind)

    async def bind(self, cls: type[p.Pdu] = p.BindTransceiver, password: str = "secret") -> Any:
        resp_kind = {
            p.BindTransceiver: p.BindTransceiverResp,
            p.BindTransmitter: p.BindTransmitterResp,
            p.BindReceiver: p.BindReceiverResp,
        }[cls]
        return await self.request(cls(system_id="omnigate", password=password), resp_kind)

    async def ack(self, pdu: p.DeliverSm, status: int = st.ESME_ROK) -> None:
        self.writer.write(
            p.encode(p.DeliverSmResp(sequence_number=pdu.sequence_number, command_status=status))
        )


def _sm(dest: str, text: bytes = b"hello", registered: int = 1, **kw: Any) -> p.SubmitSm:
    return p.SubmitSm(
        source_addr="Omnigate",
        destination_addr=dest,
        short_message=text,
        registered_delivery=registered,
        **kw,
    )


async def _stats(smsc: DevSmsc) -> dict[str, int]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{smsc.control_port}/stats") as resp,
    ):
        assert resp.status == 200
        data: dict[str, int] = await resp.json()
        return data


# --- binds ------------------------------------------------------------------------------------


def test_config_loads_from_the_environment() -> None:
    config = load(
        DevSmscConfig,
        "OMNIGATE_DEVSMSC_",
        {
            "OMNIGATE_DEVSMSC_PORT": "2776",
            "OMNIGATE_DEVSMSC_RATE_PER_S": "50",
        },
    )
    assert (config.port, config.rate_per_s, config.system_id) == (2776, 50.0, "omnigate")
    bind = load(
        SmppBindConfig,
        "OMNIGATE_SMPP_",
        {
            "OMNIGATE_SMPP_HOST": "smsc",
            "OMNIGATE_SMPP_PORT": "2775",
            "OMNIGATE_SMPP_SYSTEM_ID": "omnigate",
            "OMNIGATE_SMPP_PASSWORD": "secret",
            "OMNIGATE_SMPP_WINDOW": "50",
        },
    )
    assert bind.window == 50
    with pytest.raises(ValueError, match="window"):
        dataclasses.replace(bind, window=0)


@pytest.mark.parametrize(
    ("system_id", "password", "status"),
    [("omnigate", "wrong", st.ESME_RINVPASWD), ("someone", "secret", st.ESME_RBINDFAIL)],
)
async def test_wrong_credentials_are_refused(
    smsc: DevSmsc, system_id: str, password: str, status: int
) -> None:
    async with RawEsme.open(smsc.port) as esme:
        resp = await esme.request(
            p.BindTransmitter(system_id=system_id, password=password), p.BindTransmitterResp
        )
    assert resp.command_status == status
    assert smsc.counters.bind_failures == 1


async def test_submit_before_bind_and_second_bind_are_refused(smsc: DevSmsc) -> None:
    async with RawEsme.open(smsc.port) as esme:
        resp = await esme.request(_sm("447700900000"), p.SubmitSmResp)
        assert resp.command_status == st.ESME_RINVBNDSTS
        assert (await esme.bind()).command_status == st.ESME_ROK
        assert (await esme.bind()).command_status == st.ESME_RALYBND
        assert (await esme.request(p.EnquireLink(), p.EnquireLinkResp)).command_status == 0
        assert isinstance(await esme.request(p.Unbind(), p.UnbindResp), p.UnbindResp)


async def test_receiver_bind_cannot_submit(smsc: DevSmsc) -> None:
    async with RawEsme.open(smsc.port) as esme:
        await esme.bind(p.BindReceiver)
        resp = await esme.request(_sm("447700900000"), p.SubmitSmResp)
    assert resp.command_status == st.ESME_RINVBNDSTS


async def test_unknown_command_gets_generic_nack(smsc: DevSmsc) -> None:
    async with RawEsme.open(smsc.port) as esme:
        esme.writer.write((16).to_bytes(4, "big") + (0x103).to_bytes(4, "big") + bytes(8))
        nack = await esme.recv(p.GenericNack)
    assert nack.command_status == st.ESME_RINVCMDID


# --- outcomes by test number -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("dest", "stat", "err", "state"),
    [
        ("447700900000", "DELIVRD", "000", 2),
        ("+447700900123", "DELIVRD", "000", 2),
        ("447700900001", "UNDELIV", "001", 5),
        ("+447700900003", "REJECTD", "002", 8),
        ("447700900004", "EXPIRED", "000", 3),
        ("447700900005", "DELIVRD", "000", 2),
    ],
)
async def test_test_numbers_produce_their_documented_receipt(
    smsc: DevSmsc, dest: str, stat: str, err: str, state: int
) -> None:
    async with RawEsme.open(smsc.port) as esme:
        await esme.bind()
        resp = await esme.request(_sm(dest), p.SubmitSmResp)
        assert resp.command_status == st.ESME_ROK
        dsm = await esme.recv(p.DeliverSm)
        await esme.ack(dsm)
    assert dsm.esm_class == p.ESM_CLASS_DELIVERY_RECEIPT
    assert dsm.source_addr == dest and dsm.destination_addr == "Omnigate"
    assert p.tlv_str(dsm.tlvs, p.Tag.RECEIPTED_MESSAGE_ID) == resp.message_id
    assert p.tlv_int(dsm.tlvs, p.Tag.MESSAGE_STATE) == state
    assert dsm.tlvs[p.Tag.NETWORK_ERROR_CODE] == b"\x03" + int(err).to_bytes(2, "big")
    receipt = receipt_from_deliver_sm(dsm)
    assert receipt is not None
    assert (receipt.message_id, receipt.stat, receipt.err) == (resp.message_id, stat, err)
    assert f"id:{resp.message_id} " in dsm.short_message.decode()


async def test_slow_number_receipt_waits_for_the_slow_delay(smsc: DevSmsc) -> None:
    async with RawEsme.open(smsc.port) as esme:
        await esme.bind()
        await esme.request(_sm("447700900005"), p.SubmitSmResp)
        started = time.monotonic()
        await esme.recv(p.DeliverSm)
    assert time.monotonic() - started >= CONFIG.slow_receipt_delay_s * 0.9


async def test_invalid_destination_number_is_refused_at_submit(smsc: DevSmsc) -> None:
    async with RawEsme.open(smsc.port) as esme:
        await esme.bind()
        resp = await esme.request(_sm("+447700900002"), p.SubmitSmResp)
    assert resp.command_status == st.ESME_RINVDSTADR
    assert smsc.counters.rejected_submits == 1


async def test_silent_number_and_unrequested_receipts_send_nothing(smsc: DevSmsc) -> None:
    async with RawEsme.open(smsc.port) as esme:
        await esme.bind()
        await esme.request(_sm("447700900006"), p.SubmitSmResp)
        await esme.request(_sm("447700900000", registered=0), p.SubmitSmResp)
        await esme.request(_sm("447700900000", b"ok", registered=2), p.SubmitSmResp)  # failure only
        with pytest.raises(TimeoutError):
            await esme.recv(p.DeliverSm, within=0.3)
    assert smsc.counters.receipts_sent == 0


async def test_throttle_number_refuses_the_first_submit_and_accepts_the_resend(
    smsc: DevSmsc,
) -> None:
    async with RawEsme.open(smsc.port) as esme:
        await esme.bind()
        first = await esme.request(_sm("447700900007"), p.SubmitSmResp)
        second = await esme.request(_sm("447700900007"), p.SubmitSmResp)
    assert first.command_status == st.ESME_RTHROTTLED
    assert second.command_status == st.ESME_ROK
    assert (smsc.counters.throttled_submits, smsc.counters.duplicate_submits) == (1, 0)


async def test_submits_above_the_configured_rate_are_throttled() -> None:
    server = await start_smsc(dataclasses.replace(CONFIG, rate_per_s=5, control_port=0))
    try:
        async with RawEsme.open(server.port) as esme:
            await esme.bind()
            statuses = [
                (
                    await esme.request(_sm("447700900000", registered=0), p.SubmitSmResp)
                ).command_status
                for _ in range(20)
            ]
    finally:
        await server.close()
    assert statuses.count(st.ESME_ROK) >= 5
    assert st.ESME_RTHROTTLED in statuses


async def test_concatenated_segments_each_get_an_id_and_a_receipt(smsc: DevSmsc) -> None:
    segments = [
        _sm("447700900000", b"\x05\x00\x03\x07\x02\x01" + b"part one", esm_class=0x40),
        _sm("447700900000", b"\x06\x08\x04\x01\x07\x02\x02" + b"part two", esm_class=0x40),
        _sm(
            "447700900000",
            b"sar part",
            tlvs={
                p.Tag.SAR_MSG_REF_NUM: p.tlv_u16(9),
                p.Tag.SAR_TOTAL_SEGMENTS: p.tlv_u8(1),
                p.Tag.SAR_SEGMENT_SEQNUM: p.tlv_u8(1),
            },
        ),
    ]
    async with RawEsme.open(smsc.port) as esme:
        await esme.bind()
        ids = [(await esme.request(s, p.SubmitSmResp)).message_id for s in segments]
        receipts = []
        for _ in segments:
            dsm = await esme.recv(p.DeliverSm)
            await esme.ack(dsm)
            receipts.append(p.tlv_str(dsm.tlvs, p.Tag.RECEIPTED_MESSAGE_ID))
    assert len(set(ids)) == 3
    assert sorted(receipts) == sorted(ids)
    assert smsc.counters.concatenated_segments == 3


async def test_udh_flag_with_a_bad_header_length_is_refused(smsc: DevSmsc) -> None:
    async with RawEsme.open(smsc.port) as esme:
        await esme.bind()
        resp = await esme.request(_sm("447700900000", b"\x30ab", esm_class=0x40), p.SubmitSmResp)
    assert resp.command_status == st.ESME_RINVESMCLASS


# --- receipt delivery guarantees ---------------------------------------------------------------


async def test_receipts_wait_for_a_receiver_to_bind(smsc: DevSmsc) -> None:
    async with RawEsme.open(smsc.port) as tx:
        await tx.bind(p.BindTransmitter)
        resp = await tx.request(_sm("447700900000"), p.SubmitSmResp)
        await asyncio.sleep(CONFIG.receipt_delay_s * 3)
        assert smsc.stats()["queued_deliveries"] == 1
        async with RawEsme.open(smsc.port) as rx:
            await rx.bind(p.BindReceiver)
            dsm = await rx.recv(p.DeliverSm)
            await rx.ack(dsm)
    assert p.tlv_str(dsm.tlvs, p.Tag.RECEIPTED_MESSAGE_ID) == resp.message_id


async def test_receipt_refused_by_the_esme_is_redelivered(smsc: DevSmsc) -> None:
    async with RawEsme.open(smsc.port) as esme:
        await esme.bind()
        await esme.request(_sm("447700900000"), p.SubmitSmResp)
        first = await esme.recv(p.DeliverSm)
        await esme.ack(first, st.ESME_RX_T_APPN)
        second = await esme.recv(p.DeliverSm)
        await esme.ack(second)
        await esme.request(p.EnquireLink(), p.EnquireLinkResp)  # the ack has been read
    assert second.short_message == first.short_message
    assert (smsc.counters.deliver_errors, smsc.counters.receipts_acked) == (1, 1)


# --- control API -------------------------------------------------------------------------------


async def test_duplicate_submits_are_counted_and_reset_zeroes_counters(smsc: DevSmsc) -> None:
    async with RawEsme.open(smsc.port) as esme:
        await esme.bind(p.BindTransmitter)
        for text in (b"same", b"same", b"other"):
            await esme.request(_sm("447700900000", text, registered=0), p.SubmitSmResp)
    stats = await _stats(smsc)
    assert (stats["submits"], stats["unique_submits"], stats["duplicate_submits"]) == (3, 2, 1)
    assert stats["binds"] == 1
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"http://127.0.0.1:{smsc.control_port}/reset") as resp,
    ):
        assert resp.status == 200
    stats = await _stats(smsc)
    assert stats["submits"] == stats["duplicate_submits"] == 0


async def test_mo_is_refused_with_409_when_no_receiver_is_bound(smsc: DevSmsc) -> None:
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{smsc.control_port}/mo"
        async with http.post(
            url, json={"from": "+447700900123", "to": "+15550001", "text": "x"}
        ) as r:
            assert r.status == 409
        async with http.post(url, json={"from": "+447700900123"}) as r:
            assert r.status == 400


async def test_mo_text_is_sent_as_gsm7_or_ucs2(smsc: DevSmsc) -> None:
    async with RawEsme.open(smsc.port) as esme:
        await esme.bind(p.BindReceiver)
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{smsc.control_port}/mo"
            for text in ("Hi €5 @home", "Привет 👋"):
                body = {"from": "+447700900123", "to": "+15550001", "text": text}
                async with http.post(url, json=body) as r:
                    assert r.status == 202
        gsm = await esme.recv(p.DeliverSm)
        await esme.ack(gsm)
        ucs2 = await esme.recv(p.DeliverSm)
        await esme.ack(ucs2)
    assert (gsm.esm_class, gsm.data_coding, gsm.source_addr) == (0, 0, "447700900123")
    assert decode_gsm7(gsm.short_message) == "Hi €5 @home"
    assert ucs2.data_coding == 0x08
    assert ucs2.short_message.decode("utf-16-be") == "Привет 👋"


@pytest.mark.parametrize("how", ["udh", "sar", "payload"])
async def test_a_long_mo_text_goes_as_a_handset_sends_it(smsc: DevSmsc, how: str) -> None:
    text = "".join(f"part of a long reply {i}; " for i in range(12))  # 300 GSM-7 characters
    async with RawEsme.open(smsc.port) as esme:
        await esme.bind(p.BindReceiver)
        async with aiohttp.ClientSession() as http:
            body = {"from": "+447700900123", "to": "+15550001", "text": text, "concatenation": how}
            async with http.post(f"http://127.0.0.1:{smsc.control_port}/mo", json=body) as r:
                assert r.status == 202
        pdus = []
        for _ in range(1 if how == "payload" else 2):
            pdus.append(await esme.recv(p.DeliverSm))
            await esme.ack(pdus[-1])
    if how == "payload":
        (pdu,) = pdus
        assert pdu.short_message == b"" and pdu.esm_class == 0
        assert decode_gsm7(pdu.tlvs[p.Tag.MESSAGE_PAYLOAD]) == text
        return
    texts = []
    for seq, pdu in enumerate(pdus, 1):
        if how == "udh":
            assert pdu.esm_class == p.ESM_CLASS_UDHI
            udh, payload = pdu.short_message[:6], pdu.short_message[6:]
            assert (udh[0], udh[1], udh[4], udh[5]) == (5, 0, 2, seq)
        else:
            assert pdu.esm_class == 0
            assert p.tlv_int(pdu.tlvs, p.Tag.SAR_TOTAL_SEGMENTS) == 2
            assert p.tlv_int(pdu.tlvs, p.Tag.SAR_SEGMENT_SEQNUM) == seq
            payload = pdu.short_message
        texts.append(decode_gsm7(payload))
    assert "".join(texts) == text


async def test_mo_parts_can_arrive_last_first_and_bad_options_are_refused(smsc: DevSmsc) -> None:
    async with RawEsme.open(smsc.port) as esme:
        await esme.bind(p.BindReceiver)
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{smsc.control_port}/mo"
            body = {"from": "+447700900123", "to": "+15550001", "text": "x" * 200}
            async with http.post(url, json=body | {"reverse": True}) as r:
                assert r.status == 202
            async with http.post(url, json=body | {"concatenation": "fax"}) as r:
                assert r.status == 400
            async with http.post(url, json=body | {"reverse": "yes"}) as r:
                assert r.status == 400
        first = await esme.recv(p.DeliverSm)
        await esme.ack(first)
        second = await esme.recv(p.DeliverSm)
        await esme.ack(second)
    assert (first.short_message[5], second.short_message[5]) == (2, 1)


# --- an independent client: smpplib -----------------------------------------------------------


def _smpplib_session(port: int, dest: str, mo: bool = False) -> dict[str, Any]:
    """Bind with smpplib, submit to ``dest`` and wait for the receipt (and an MO if asked)."""
    client = smpplib.client.Client("127.0.0.1", port, timeout=5, allow_unknown_opt_params=True)
    out: dict[str, Any] = {"receipts": [], "mo": []}
    client.set_message_sent_handler(lambda pdu: out.setdefault("sent", pdu))

    def received(pdu: Any) -> None:
        (out["receipts"] if pdu.receipted_message_id else out["mo"]).append(pdu)

    client.set_message_received_handler(received)
    client.connect()
    try:
        client.bind_transceiver(system_id="omnigate", password="secret")
        out["bound"] = True
        client.send_message(
            source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
            source_addr="Omnigate",
            dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
            dest_addr_npi=1,
            destination_addr=dest,
            short_message=b"hello from smpplib",
            registered_delivery=1,
        )
        while "sent" not in out or not out["receipts"] or (mo and not out["mo"]):
            client.read_once()
        client.unbind()  # in-order: the SMSC has read our deliver_sm_resp once this returns
    finally:
        client.disconnect()
    return out


async def test_smpplib_submits_and_receives_the_delivery_receipt(smsc: DevSmsc) -> None:
    out = await asyncio.to_thread(_smpplib_session, smsc.port, "+447700900000")
    message_id = out["sent"].message_id.decode()
    receipt = out["receipts"][0]
    assert receipt.receipted_message_id.decode() == message_id
    assert receipt.message_state == 2
    assert b"stat:DELIVRD" in receipt.short_message
    assert smsc.counters.receipts_acked == 1


async def test_smpplib_sees_undeliverable_number_fail(smsc: DevSmsc) -> None:
    out = await asyncio.to_thread(_smpplib_session, smsc.port, "447700900001")
    receipt = out["receipts"][0]
    assert receipt.message_state == 5
    assert b"stat:UNDELIV err:001" in receipt.short_message


async def test_smpplib_bind_with_bad_password_is_refused(smsc: DevSmsc) -> None:
    def bind() -> None:
        client = smpplib.client.Client(
            "127.0.0.1", smsc.port, timeout=5, allow_unknown_opt_params=True
        )
        client.connect()
        try:
            client.bind_transceiver(system_id="omnigate", password="nope")
        finally:
            client.disconnect()

    with pytest.raises(smpplib.exceptions.PDUError) as info:
        await asyncio.to_thread(bind)
    assert info.value.args[1] == st.ESME_RINVPASWD


async def test_smpplib_receives_an_mo_posted_to_the_control_api(smsc: DevSmsc) -> None:
    session = asyncio.create_task(
        asyncio.to_thread(_smpplib_session, smsc.port, "447700900000", True)
    )
    for _ in range(500):  # smpplib binds in its thread; nothing to await but the state
        if smsc.scheduler.has_receiver("omnigate"):
            break
        await asyncio.sleep(0.01)
    async with aiohttp.ClientSession() as http:
        body = {"from": "+447700900555", "to": "+15550001", "text": "Reply YES"}
        async with http.post(f"http://127.0.0.1:{smsc.control_port}/mo", json=body) as r:
            assert r.status == 202
    out = await asyncio.wait_for(session, 10)
    mo = out["mo"][0]
    assert mo.short_message == b"Reply YES"
    assert mo.source_addr == b"447700900555"
    assert mo.data_coding == 0


# --- throughput ---------------------------------------------------------------------------------


async def test_carries_thousands_of_submits_with_receipts_on_one_connection(
    smsc: DevSmsc,
) -> None:
    count = 4000
    done = asyncio.Event()
    seen = 0

    async def on_deliver(_pdu: p.DeliverSm) -> None:
        nonlocal seen
        seen += 1
        if seen == count:
            done.set()

    config = SmppBindConfig(
        host="127.0.0.1", port=smsc.port, system_id="omnigate", password="secret", window=200
    )
    client = SmppClient(config, on_deliver)
    await client.start()
    try:
        started = time.monotonic()
        await asyncio.gather(
            *(client.submit(_sm("447700900000", f"m{i}".encode())) for i in range(count))
        )
        submit_rate = count / (time.monotonic() - started)
        async with asyncio.timeout(15):
            await done.wait()
    finally:
        await client.close()
    assert smsc.counters.receipts_acked == count
    print(f"{submit_rate:.0f} submit/s")
    assert submit_rate > 1000  # loose: shared CI machines; measured separately in load tests
