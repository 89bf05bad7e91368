"""The development SMSC: a real SMPP 3.4 server with scripted outcomes (see README.md).

One ``_Session`` per TCP connection handles binds, submit_sm, enquire_link
and unbind; receipts and MO messages go out through the ``DeliveryScheduler``.
Responses are written without awaiting ``drain`` per PDU: the ESME's window
bounds what can be outstanding, and a per-PDU drain would halve throughput.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from datetime import UTC, datetime, timedelta

from aiohttp import web

from libs.smpp import pdu as p
from libs.smpp import status as st
from libs.smpp.encoding import encode_segments
from libs.smpp.errors import SmppConnectionError, SmppFramingError, SmppPduError
from libs.smpp.gsm7 import decode_gsm7
from libs.smpp.receipt import DELIVRD, STAT_TO_MESSAGE_STATE, format_receipt_text
from libs.smpp.throttle import TokenBucket
from services.devsmsc.config import DevSmscConfig
from services.devsmsc.control import start_control, stop_control
from services.devsmsc.delivery import DeliveryScheduler, Outbound
from services.devsmsc.outcomes import outcome_for
from services.devsmsc.stats import Counters, SeenSet, message_key

log = logging.getLogger("omnigate.devsmsc")

# Outstanding deliver_sm per session; more wait in the scheduler, as a real
# SMSC's window would make them.
_DELIVER_WINDOW = 1000
_GSM_NETWORK_TYPE = 3  # network_error_code's first octet: GSM (section 5.3.2.31)
_SMSC_NAME = "devsmsc"
# How a mobile-originated text longer than one SMS travels (send_mo).
MO_CONCATENATIONS = ("udh", "sar", "payload")


def _is_concatenated(pdu: p.SubmitSm) -> bool:
    if p.Tag.SAR_MSG_REF_NUM in pdu.tlvs:
        return True
    if not pdu.esm_class & p.ESM_CLASS_UDHI or not pdu.short_message:
        return False
    udh = pdu.short_message[1 : 1 + pdu.short_message[0]]
    i = 0
    while i + 1 < len(udh):  # walk the information elements looking for 0x00/0x08
        if udh[i] in (0x00, 0x08):
            return True
        i += 2 + udh[i + 1]
    return False


def _udh_is_valid(pdu: p.SubmitSm) -> bool:
    sm = pdu.short_message
    return bool(sm) and sm[0] + 1 <= len(sm)


def _preview(pdu: p.SubmitSm) -> str:
    """The first characters of the message for the receipt's ``text:`` field."""
    sm = pdu.short_message
    if pdu.esm_class & p.ESM_CLASS_UDHI and sm:
        sm = sm[1 + sm[0] :]
    if pdu.data_coding == 0x08:
        text = sm.decode("utf-16-be", "replace")
    elif pdu.data_coding == 0x00:
        text = decode_gsm7(sm)
    else:
        text = sm.decode("latin-1")
    return text[:20].encode("latin-1", "replace").decode("latin-1")


class DevSmsc:
    """A running dev SMSC. Use ``start_smsc`` to create one."""

    def __init__(self, config: DevSmscConfig) -> None:
        self.config = config
        self.counters = Counters()
        self.port = 0
        self.control_port = 0  # 0 while the control API is off
        self.scheduler = DeliveryScheduler(config.redeliver_delay_s)
        self._bucket = TokenBucket(config.rate_per_s, burst=max(1.0, config.rate_per_s))
        self._seen = SeenSet()
        self._throttled_once = SeenSet(100_000)
        # A random prefix keeps ids unique across restarts; the counter keeps
        # them unique within one run without a collision check.
        self._id_prefix = secrets.randbits(32)
        self._id_counter = 0
        self._mo_reference = 0
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._control: web.AppRunner | None = None

    def stats(self) -> dict[str, int]:
        data = self.counters.as_dict()
        data["sessions"] = len(self._sessions)
        data["queued_deliveries"] = self.scheduler.queued
        return data

    def reset(self) -> None:
        """Zero the counters and forget seen messages (the control API's POST /reset)."""
        self.counters.reset()
        self._seen.clear()
        self._throttled_once.clear()

    def next_message_id(self) -> str:
        self._id_counter = (self._id_counter + 1) & 0xFFFFFFFF
        return f"{self._id_prefix:08x}{self._id_counter:08x}"

    def send_mo(
        self,
        source: str,
        destination: str,
        text: str,
        concatenation: str = "udh",
        reverse: bool = False,
    ) -> bool:
        """Queue a mobile-originated SMS; False when no receiver is bound to take it.

        A text longer than one SMS goes as a handset sends it: in parts, each
        with a UDH concatenation header (``udh``), or with the SAR optional
        parameters instead (``sar``), or whole in one message_payload
        (``payload``). ``reverse`` sends the parts last first, as networks
        sometimes deliver them. Raises ``ValueError`` for an unknown way or
        a text of more than 255 parts.
        """
        if concatenation not in MO_CONCATENATIONS:
            raise ValueError(f"concatenation must be one of {', '.join(MO_CONCATENATIONS)}")
        system_id = self.config.system_id
        if not self.scheduler.has_receiver(system_id):
            return False
        self._mo_reference = (self._mo_reference + 1) & 0xFF
        encoded = encode_segments(text, self._mo_reference)
        parts: list[tuple[int, bytes, dict[int, bytes]]] = []
        if concatenation == "payload" and encoded.esm_class_udhi:
            whole = b"".join(part[1 + part[0] :] for part in encoded.parts)
            parts.append((0, b"", {p.Tag.MESSAGE_PAYLOAD: whole}))
        elif concatenation == "sar" and encoded.esm_class_udhi:
            for part in encoded.parts:
                udhl = part[0]
                reference, total, seq = part[1 + 2 : 1 + 5]
                tlvs = {
                    p.Tag.SAR_MSG_REF_NUM: p.tlv_u16(reference),
                    p.Tag.SAR_TOTAL_SEGMENTS: p.tlv_u8(total),
                    p.Tag.SAR_SEGMENT_SEQNUM: p.tlv_u8(seq),
                }
                parts.append((0, part[1 + udhl :], tlvs))
        else:
            esm_class = p.ESM_CLASS_UDHI if encoded.esm_class_udhi else 0
            parts = [(esm_class, part, {}) for part in encoded.parts]
        if reverse:
            parts.reverse()
        for esm_class, short_message, tlvs in parts:
            pdu = p.DeliverSm(
                source_addr_ton=1,
                source_addr_npi=1,
                source_addr=source.lstrip("+"),
                dest_addr_ton=1,
                dest_addr_npi=1,
                destination_addr=destination.lstrip("+"),
                esm_class=esm_class,
                data_coding=encoded.data_coding,
                short_message=short_message,
                tlvs=tlvs,
            )
            self.scheduler.schedule(Outbound(system_id, pdu, is_receipt=False), 0.0)
        return True

    def _receipt(
        self, submit: p.SubmitSm, message_id: str, stat: str, err: int, delay: float
    ) -> Outbound:
        submitted = datetime.now(UTC)
        text = format_receipt_text(
            message_id,
            stat,
            err=f"{err:03d}",
            submit_date=submitted,
            done_date=submitted + timedelta(seconds=delay),
            text=_preview(submit),
        )
        pdu = p.DeliverSm(
            source_addr_ton=submit.dest_addr_ton,
            source_addr_npi=submit.dest_addr_npi,
            source_addr=submit.destination_addr,
            dest_addr_ton=submit.source_addr_ton,
            dest_addr_npi=submit.source_addr_npi,
            destination_addr=submit.source_addr,
            esm_class=p.ESM_CLASS_DELIVERY_RECEIPT,
            short_message=text.encode("latin-1"),
            tlvs={
                p.Tag.RECEIPTED_MESSAGE_ID: p.tlv_cstr(message_id),
                p.Tag.MESSAGE_STATE: p.tlv_u8(STAT_TO_MESSAGE_STATE[stat]),
                p.Tag.NETWORK_ERROR_CODE: bytes((_GSM_NETWORK_TYPE,)) + p.tlv_u16(err),
            },
        )
        return Outbound(self.config.system_id, pdu, is_receipt=True)

    def handle_submit(self, pdu: p.SubmitSm) -> p.SubmitSmResp:
        """Decide a bound transmitter's submit_sm; schedules its receipt when one is due."""
        c = self.counters
        c.submits += 1

        def refuse(status: int) -> p.SubmitSmResp:
            if status == st.ESME_RTHROTTLED:
                c.throttled_submits += 1
            else:
                c.rejected_submits += 1
            return p.SubmitSmResp(sequence_number=pdu.sequence_number, command_status=status)

        if not self._bucket.try_take():
            return refuse(st.ESME_RTHROTTLED)
        if pdu.esm_class & p.ESM_CLASS_UDHI and not _udh_is_valid(pdu):
            return refuse(st.ESME_RINVESMCLASS)
        outcome = outcome_for(pdu.destination_addr)
        if outcome.submit_status != st.ESME_ROK:
            return refuse(outcome.submit_status)
        key = message_key(
            pdu.source_addr, pdu.destination_addr, pdu.short_message, pdu.data_coding, pdu.esm_class
        )
        if outcome.throttle_first and not self._throttled_once.add(key):
            return refuse(st.ESME_RTHROTTLED)
        if self._seen.add(key):
            c.duplicate_submits += 1
        else:
            c.unique_submits += 1
        if _is_concatenated(pdu):
            c.concatenated_segments += 1
        message_id = self.next_message_id()
        stat = outcome.stat
        # registered_delivery bits 0-1: 1 = always, 2 = on failure only, 3 = on success only.
        wanted = pdu.registered_delivery & 0x03
        if stat is not None and (
            wanted == 1 or (wanted == 2 and stat != DELIVRD) or (wanted == 3 and stat == DELIVRD)
        ):
            cfg = self.config
            delay = cfg.slow_receipt_delay_s if outcome.slow else cfg.receipt_delay_s
            self.scheduler.schedule(self._receipt(pdu, message_id, stat, outcome.err, delay), delay)
        return p.SubmitSmResp(sequence_number=pdu.sequence_number, message_id=message_id)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        session = _Session(self, reader, writer)
        self._sessions.add(session)
        try:
            await session.serve()
        except Exception:
            log.exception("session failed")
        finally:
            session.close()
            self._sessions.discard(session)
            self._tasks.discard(task)

    async def close(self) -> None:
        if self._control is not None:
            await stop_control(self._control)
            self._control = None
        if self._server is not None:
            self._server.close()
        for session in list(self._sessions):
            session.close()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        await self.scheduler.close()
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self._server.wait_closed()
            self._server = None


class _Session:
    """One ESME connection."""

    def __init__(
        self, smsc: DevSmsc, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.smsc = smsc
        self.reader = reader
        self.writer = writer
        self.system_id = ""
        self.bind_id = 0  # command_id of the accepted bind; 0 = not bound
        self.closed = False
        self._seq = 0
        self._outstanding: dict[int, Outbound] = {}
        # PDUs of one event-loop turn go out in one write (one system call).
        self._outgoing: list[bytes] = []
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"

    # --- Receiver protocol, used by the scheduler ---

    def has_capacity(self) -> bool:
        return not self.closed and len(self._outstanding) < _DELIVER_WINDOW

    def send_deliver(self, item: Outbound) -> None:
        self._seq = self._seq % 0x7FFFFFFF + 1
        self._outstanding[self._seq] = item
        self._send(p.encode(item.pdu, self._seq))
        if item.is_receipt:
            self.smsc.counters.receipts_sent += 1
        else:
            self.smsc.counters.mo_sent += 1

    # ---

    def _write(self, pdu: p.Pdu) -> None:
        if not self.closed:
            self._send(p.encode(pdu))

    def _send(self, data: bytes) -> None:
        if not self._outgoing:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outgoing.append(data)

    def _flush(self) -> None:
        data, self._outgoing = b"".join(self._outgoing), []
        if self.closed or not data:
            return
        try:
            self.writer.write(data)
        except (RuntimeError, OSError):
            # The peer is gone: closing puts what it never answered back in the queue.
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        last, self._outgoing = b"".join(self._outgoing), []
        self.closed = True
        if last:  # an unbind_resp written just before must still leave
            with contextlib.suppress(RuntimeError, OSError):
                self.writer.write(last)
        scheduler = self.smsc.scheduler
        scheduler.remove_receiver(self)
        outstanding, self._outstanding = self._outstanding, {}
        for item in outstanding.values():  # unanswered: the ESME may never have seen them
            scheduler.schedule(item, 0.0)
        self.writer.close()

    async def serve(self) -> None:
        while not self.closed:
            try:
                pdu = await p.read_pdu(self.reader)
            except SmppFramingError as exc:
                log.warning("%s: %s; closing", self.peer, exc)
                return
            except SmppPduError as exc:
                self._write(
                    p.GenericNack(
                        sequence_number=exc.sequence_number, command_status=exc.command_status
                    )
                )
                continue
            except (SmppConnectionError, OSError):
                return
            if not self._handle(pdu):
                return

    def _handle(self, pdu: p.Pdu) -> bool:
        """Answer one PDU; False ends the session."""
        if isinstance(pdu, p.SubmitSm):
            if self.bind_id in (p.BIND_TRANSMITTER, p.BIND_TRANSCEIVER):
                self._write(self.smsc.handle_submit(pdu))
            else:
                self._write(p.response_for(pdu, st.ESME_RINVBNDSTS))
        elif isinstance(pdu, p.DeliverSmResp | p.GenericNack):
            self._on_deliver_resp(pdu)
        elif isinstance(pdu, p.BindTransmitter | p.BindReceiver | p.BindTransceiver):
            self._on_bind(pdu)
        elif pdu.command_id == p.ENQUIRE_LINK:
            self._write(p.response_for(pdu))
        elif pdu.command_id == p.UNBIND:
            self._write(p.response_for(pdu))
            return False
        elif pdu.command_id & p.RESPONSE_BIT:
            pass  # e.g. unbind_resp or enquire_link_resp: nothing waits for them
        else:
            self._write(p.response_for(pdu, st.ESME_RINVCMDID))
        return True

    def _on_bind(self, pdu: p.BindTransmitter | p.BindReceiver | p.BindTransceiver) -> None:
        cfg = self.smsc.config
        counters = self.smsc.counters
        if self.bind_id:
            status = st.ESME_RALYBND
        elif pdu.system_id != cfg.system_id:
            status = st.ESME_RBINDFAIL
        elif pdu.password != cfg.password:
            status = st.ESME_RINVPASWD
        else:
            status = st.ESME_ROK
        resp = p.response_for(pdu, status)
        if status != st.ESME_ROK:
            counters.bind_failures += 1
            log.info(
                "%s: bind refused for %r: %s", self.peer, pdu.system_id, st.status_name(status)
            )
            self._write(resp)
            return
        assert isinstance(resp, p.BindTransmitterResp | p.BindReceiverResp | p.BindTransceiverResp)
        resp.system_id = _SMSC_NAME
        resp.tlvs = {p.Tag.SC_INTERFACE_VERSION: p.tlv_u8(p.INTERFACE_VERSION)}
        self._write(resp)
        self.bind_id = pdu.command_id
        self.system_id = pdu.system_id
        counters.binds += 1
        log.info("%s: bound %s (0x%08X)", self.peer, pdu.system_id, pdu.command_id)
        if pdu.command_id in (p.BIND_RECEIVER, p.BIND_TRANSCEIVER):
            self.smsc.scheduler.add_receiver(self)

    def _on_deliver_resp(self, resp: p.Pdu) -> None:
        item = self._outstanding.pop(resp.sequence_number, None)
        if item is None:
            return
        counters = self.smsc.counters
        if resp.command_status == st.ESME_ROK:
            if item.is_receipt:
                counters.receipts_acked += 1
            return
        counters.deliver_errors += 1
        log.info(
            "%s: deliver_sm refused with %s; will redeliver",
            self.peer,
            st.status_name(resp.command_status),
        )
        self.smsc.scheduler.redeliver(item)


async def start_smsc(config: DevSmscConfig) -> DevSmsc:
    """Listen on ``config.host:config.port`` (and the control API); return the running SMSC."""
    smsc = DevSmsc(config)
    smsc.scheduler.start()
    server = await asyncio.start_server(smsc._accept, config.host, config.port)
    smsc._server = server
    smsc.port = server.sockets[0].getsockname()[1]
    if config.control_port != 0:
        smsc._control, smsc.control_port = await start_control(
            smsc, config.host, max(config.control_port, 0)
        )
    log.info("dev SMSC listening on %s:%d (control %d)", config.host, smsc.port, smsc.control_port)
    return smsc
