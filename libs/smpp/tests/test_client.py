"""SmppClient against the dev SMSC, and against a scripted fake for failure modes."""

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from libs.smpp import pdu as p
from libs.smpp import status as st
from libs.smpp.client import SmppClient
from libs.smpp.config import SmppBindConfig
from libs.smpp.errors import SmppBindError, SmppConnectionError, SmppStatusError
from libs.smpp.receipt import DELIVRD, Receipt, carrier_ids_match, receipt_from_deliver_sm
from services.devsmsc.config import DevSmscConfig
from services.devsmsc.server import DevSmsc, start_smsc

SMSC_CONFIG = DevSmscConfig(
    port=0, control_port=0, receipt_delay_s=0.05, slow_receipt_delay_s=0.5, redeliver_delay_s=0.05
)


def _config(port: int, **overrides: object) -> SmppBindConfig:
    values: dict[str, object] = dict(
        host="127.0.0.1",
        port=port,
        system_id="omnigate",
        password="secret",
        response_timeout_s=2.0,
        reconnect_initial_s=0.05,
        reconnect_max_s=0.2,
        reconnect_wait_s=5.0,
        throttle_pause_s=0.05,
    )
    values.update(overrides)
    return SmppBindConfig(**values)  # type: ignore[arg-type]


def _sm(dest: str = "447700900000", text: bytes = b"hello", receipt: bool = True) -> p.SubmitSm:
    return p.SubmitSm(
        source_addr="Omnigate",
        source_addr_ton=5,
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr=dest,
        registered_delivery=1 if receipt else 0,
        short_message=text,
    )


async def wait_until(predicate: Callable[[], bool], within: float = 3.0) -> None:
    """Poll ``predicate``: the fake SMSC's state changes have no event to await."""
    for _ in range(int(within / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("condition not met in time")


class Inbox:
    """Collects receipts given to on_deliver and lets a test wait for a number of them."""

    def __init__(self) -> None:
        self.receipts: list[Receipt] = []
        self.pdus: list[p.DeliverSm] = []
        self._changed = asyncio.Event()

    async def __call__(self, pdu: p.DeliverSm) -> None:
        self.pdus.append(pdu)
        rc = receipt_from_deliver_sm(pdu)
        if rc is not None:
            self.receipts.append(rc)
        self._changed.set()

    async def wait_for(self, count: int, within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while len(self.pdus) < count:
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
async def smsc() -> AsyncIterator[DevSmsc]:
    server = await start_smsc(SMSC_CONFIG)
    yield server
    await server.close()


@contextlib.asynccontextmanager
async def running(
    config: SmppBindConfig, on_deliver: Callable[[p.DeliverSm], Awaitable[None]]
) -> AsyncIterator[SmppClient]:
    client = SmppClient(config, on_deliver)
    await client.start()
    try:
        yield client
    finally:
        await client.close(drain_s=1.0)


async def test_submit_returns_the_carrier_message_id_and_the_receipt_reaches_on_deliver(
    smsc: DevSmsc,
) -> None:
    inbox = Inbox()
    async with running(_config(smsc.port), inbox) as client:
        assert client.bound
        resp = await client.submit(_sm())
        assert len(resp.message_id) == 16
        int(resp.message_id, 16)
        await inbox.wait_for(1)
    rc = inbox.receipts[0]
    assert carrier_ids_match(resp.message_id, rc.message_id)
    assert rc.stat == DELIVRD
    assert smsc.counters.receipts_acked == 1


async def test_500_pipelined_submits_are_all_acked_within_the_window(smsc: DevSmsc) -> None:
    inbox = Inbox()
    window = 25
    peak = 0
    async with running(_config(smsc.port, window=window), inbox) as client:

        async def one(i: int) -> str:
            resp = await client.submit(_sm(text=f"msg {i}".encode()))
            return resp.message_id

        async def watch() -> None:
            nonlocal peak
            while True:  # sampled every loop turn: responses may arrive in one read
                peak = max(peak, client.in_flight)
                await asyncio.sleep(0)

        watcher = asyncio.ensure_future(watch())
        ids = await asyncio.gather(*(one(i) for i in range(500)))
        watcher.cancel()
        await inbox.wait_for(500)
    assert len(set(ids)) == 500
    assert 1 < peak <= window
    assert smsc.counters.unique_submits == 500
    assert {r.message_id for r in inbox.receipts} == set(ids)


async def test_throttled_submit_is_retried_transparently(smsc: DevSmsc) -> None:
    async with running(_config(smsc.port), Inbox()) as client:
        resp = await client.submit(_sm("+447700900007"))
    assert resp.message_id
    assert smsc.counters.throttled_submits == 1
    assert smsc.counters.unique_submits == 1


async def test_invalid_destination_raises_a_non_retryable_status_error(smsc: DevSmsc) -> None:
    async with running(_config(smsc.port), Inbox()) as client:
        with pytest.raises(SmppStatusError) as info:
            await client.submit(_sm("447700900002"))
    assert info.value.command_status == st.ESME_RINVDSTADR
    assert not info.value.retryable


async def test_smsc_rate_limit_is_respected_by_local_pacing() -> None:
    server = await start_smsc(DevSmscConfig(port=0, control_port=0, rate_per_s=200))
    try:
        async with running(_config(server.port, rate_per_s=200), Inbox()) as client:
            started = time.monotonic()
            await asyncio.gather(*(client.submit(_sm(receipt=False)) for _ in range(100)))
            elapsed = time.monotonic() - started
        assert elapsed >= 0.35  # 100 messages at 200/s, minus the initial burst
        assert server.counters.throttled_submits == 0
    finally:
        await server.close()


async def test_failing_on_deliver_makes_the_smsc_redeliver(smsc: DevSmsc) -> None:
    calls = 0
    done = asyncio.Event()

    async def flaky(pdu: p.DeliverSm) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database unavailable")
        done.set()

    async with running(_config(smsc.port), flaky) as client:
        await client.submit(_sm())
        async with asyncio.timeout(5):
            await done.wait()
    assert smsc.counters.deliver_errors == 1
    assert smsc.counters.receipts_acked == 1


async def test_client_rebinds_after_the_smsc_restarts_and_waiting_submits_succeed() -> None:
    first = await start_smsc(SMSC_CONFIG)
    port = first.port
    inbox = Inbox()
    async with running(_config(port), inbox) as client:
        await client.submit(_sm(receipt=False))
        await first.close()
        pending = asyncio.create_task(client.submit(_sm(receipt=False)))
        await asyncio.sleep(0.1)
        assert not pending.done()  # waits for a bind instead of failing at once
        second = await start_smsc(dataclasses.replace(SMSC_CONFIG, port=port))
        try:
            resp = await asyncio.wait_for(pending, 5)
            assert resp.message_id
            assert client.bound
            assert second.counters.binds == 1
        finally:
            await client.close(drain_s=1.0)
            await second.close()


async def test_submit_while_disconnected_fails_after_reconnect_wait(smsc: DevSmsc) -> None:
    async with running(_config(smsc.port, reconnect_wait_s=0.2), Inbox()) as client:
        await smsc.close()
        with pytest.raises(SmppConnectionError, match="not bound"):
            await client.submit(_sm())


async def test_wrong_password_fails_start_with_a_non_retryable_bind_error(smsc: DevSmsc) -> None:
    client = SmppClient(_config(smsc.port, password="wrong"), Inbox())
    with pytest.raises(SmppBindError) as info:
        await client.start()
    assert info.value.command_status == st.ESME_RINVPASWD
    assert not info.value.retryable


async def test_close_unbinds_from_the_smsc(smsc: DevSmsc) -> None:
    async with running(_config(smsc.port), Inbox()):
        assert smsc.stats()["sessions"] == 1
    await asyncio.sleep(0.05)
    assert smsc.stats()["sessions"] == 0


# --- a scripted SMSC for failures the dev SMSC does not produce ----------------------------


class FakeSmsc:
    """Binds anyone; then answers requests according to flags the test sets."""

    def __init__(self) -> None:
        self.connections = 0
        self.answer_enquire_link = True
        self.answer_bind = True
        self.drop_on_submit = False
        self.ended = 0  # connections the client closed (or that dropped)
        self.received: list[p.Pdu] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in self.writers:
            w.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            await self._read(reader, writer)
        finally:
            self.ended += 1

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while True:
                pdu = await p.read_pdu(reader)
                self.received.append(pdu)
                if isinstance(pdu, p.BindTransceiver) and not self.answer_bind:
                    continue
                if isinstance(pdu, p.BindTransceiver):
                    writer.write(
                        p.encode(
                            p.BindTransceiverResp(
                                sequence_number=pdu.sequence_number, system_id="fake"
                            )
                        )
                    )
                elif isinstance(pdu, p.SubmitSm) and self.drop_on_submit:
                    writer.close()
                    return
                elif pdu.command_id == p.ENQUIRE_LINK and not self.answer_enquire_link:
                    continue
                elif not pdu.command_id & p.RESPONSE_BIT:
                    writer.write(p.encode(p.response_for(pdu)))

    def send(self, pdu: p.Pdu) -> None:
        self.writers[-1].write(p.encode(pdu))


@pytest.fixture
async def fake() -> AsyncIterator[FakeSmsc]:
    server = FakeSmsc()
    await server.start()
    yield server
    await server.close()


async def test_submit_whose_connection_drops_before_the_response_raises_connection_error(
    fake: FakeSmsc,
) -> None:
    fake.drop_on_submit = True
    async with running(_config(fake.port, reconnect_wait_s=0.5), Inbox()) as client:
        with pytest.raises(SmppConnectionError) as info:
            await client.submit(_sm())
    assert info.value.retryable


async def test_client_sends_enquire_link_when_idle(fake: FakeSmsc) -> None:
    async with running(_config(fake.port, enquire_link_interval_s=0.05), Inbox()):
        await asyncio.sleep(0.3)
    assert any(pdu.command_id == p.ENQUIRE_LINK for pdu in fake.received)
    assert fake.connections == 1


async def test_unanswered_enquire_link_drops_and_reopens_the_connection(fake: FakeSmsc) -> None:
    fake.answer_enquire_link = False
    config = _config(fake.port, enquire_link_interval_s=0.05, response_timeout_s=0.1)
    async with running(config, Inbox()):
        await wait_until(lambda: fake.connections >= 2)


async def test_closing_while_a_reconnect_awaits_its_bind_closes_that_connection(
    fake: FakeSmsc,
) -> None:
    # Left open, its socket was closed only by the garbage collector, with a
    # ResourceWarning ("unclosed StreamWriter") that failed an unrelated test.
    async with running(_config(fake.port, response_timeout_s=5.0), Inbox()):
        fake.answer_bind = False
        fake.writers[-1].close()
        await wait_until(lambda: sum(isinstance(x, p.BindTransceiver) for x in fake.received) >= 2)
    await wait_until(lambda: fake.ended == 2)


async def test_client_answers_the_smscs_enquire_link_and_unbind(fake: FakeSmsc) -> None:
    async with running(_config(fake.port), Inbox()):
        fake.send(p.EnquireLink(sequence_number=4242))
        await wait_until(lambda: any(x.sequence_number == 4242 for x in fake.received))
        answer = next(x for x in fake.received if x.sequence_number == 4242)
        assert isinstance(answer, p.EnquireLinkResp)
        fake.send(p.Unbind(sequence_number=4243))
        await wait_until(lambda: fake.connections >= 2)  # unbind answered, then a fresh bind
        assert any(isinstance(x, p.UnbindResp) and x.sequence_number == 4243 for x in fake.received)
