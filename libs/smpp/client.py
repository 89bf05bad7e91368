"""An asyncio ESME for one bind_transceiver: pipelined submits, receipts, keep-alive, reconnect.

Per-message cost is kept to a semaphore slot (the send window), an optional
token-bucket sleep, one future in a ``sequence_number -> future`` dict and one
``write`` without ``drain``. Response timeouts are enforced by one
housekeeping task per connection that sweeps the dict in insertion order
(every request has the same timeout, so insertion order is deadline order)
instead of a timer per request.

Delivery contract: ``on_deliver`` is awaited before the deliver_sm_resp is
sent, so the caller commits a receipt or MO before the SMSC forgets it; if it
raises, the answer is ESME_RX_T_APPN and the SMSC redelivers later.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable

from libs.smpp import pdu as p
from libs.smpp import status as st
from libs.smpp.config import SmppBindConfig
from libs.smpp.errors import (
    SmppBindError,
    SmppConnectionError,
    SmppError,
    SmppFramingError,
    SmppPduError,
    SmppStatusError,
    SmppTimeoutError,
)
from libs.smpp.log import logger
from libs.smpp.throttle import TokenBucket

DeliverHandler = Callable[[p.DeliverSm], Awaitable[None]]

# Above this many unsent bytes the submitter awaits drain(); below it writes
# never wait, which is what keeps a windowed burst cheap.
_WRITE_HIGH_WATER = 1 << 20


class _Connection:
    """One TCP connection and its in-flight requests; discarded on disconnect."""

    __slots__ = (
        "closed",
        "enquire",
        "last_rx",
        "loop",
        "outgoing",
        "pending",
        "reader",
        "timeout",
        "writer",
    )

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.timeout = timeout
        self.loop = asyncio.get_running_loop()
        self.pending: dict[int, tuple[asyncio.Future[p.Pdu], float]] = {}
        self.closed = False
        self.last_rx = self.loop.time()
        self.enquire: asyncio.Future[p.Pdu] | None = None
        # PDUs written during one turn of the event loop, sent as one write:
        # a windowed burst then costs one system call, not one per PDU.
        self.outgoing: list[bytes] = []

    def _write(self, data: bytes) -> None:
        if not self.outgoing:
            self.loop.call_soon(self._flush)
        self.outgoing.append(data)

    def _flush(self) -> None:
        data, self.outgoing = b"".join(self.outgoing), []
        if self.closed or not data:
            return
        try:
            self.writer.write(data)
        except (RuntimeError, OSError):
            # Written after the peer went away: fail what waits, the session reconnects.
            self.close("connection lost")

    def send(self, pdu: p.Pdu) -> None:
        if not self.closed:
            self._write(p.encode(pdu))

    def request(self, pdu: p.Pdu, seq: int) -> asyncio.Future[p.Pdu]:
        if self.closed:
            raise SmppConnectionError("connection closed")
        data = p.encode(pdu, seq)  # before registering: a ValueError must leave no trace
        fut: asyncio.Future[p.Pdu] = self.loop.create_future()
        self.pending[seq] = (fut, self.loop.time() + self.timeout)
        self._write(data)
        return fut

    def resolve(self, resp: p.Pdu) -> None:
        entry = self.pending.pop(resp.sequence_number, None)
        if entry is None:
            logger.debug("response to unknown or expired sequence %d", resp.sequence_number)
        elif not entry[0].done():  # the awaiting submitter may have been cancelled
            entry[0].set_result(resp)

    def expire(self) -> None:
        now = self.loop.time()
        expired = []
        for seq, (_fut, deadline) in self.pending.items():
            if deadline > now:
                break
            expired.append(seq)
        for seq in expired:
            fut, _ = self.pending.pop(seq)
            if not fut.done():
                fut.set_exception(
                    SmppTimeoutError(f"no response to sequence {seq} within {self.timeout}s")
                )

    def close(self, reason: str) -> None:
        if self.closed:
            return
        last, self.outgoing = b"".join(self.outgoing), []
        self.closed = True
        if last:  # an unbind written just before must still leave
            with contextlib.suppress(RuntimeError, OSError):
                self.writer.write(last)
        # Cancel rather than fail the keep-alive probe: nobody awaits it, and
        # an unretrieved exception would be logged as a bug at GC time.
        if self.enquire is not None:
            self.enquire.cancel()
        pending, self.pending = self.pending, {}
        for fut, _ in pending.values():
            if not fut.done():
                fut.set_exception(
                    SmppConnectionError(f"{reason} before the response (it may have been applied)")
                )
        self.writer.close()


class SmppClient:
    """One transceiver bind to an SMSC, reconnecting for as long as it is open.

    ``start`` returns after the first successful bind and raises if that
    fails (``SmppBindError`` or ``SmppConnectionError``); afterwards the bind
    is kept up in the background with jittered exponential backoff.
    """

    def __init__(self, config: SmppBindConfig, on_deliver: DeliverHandler) -> None:
        self._config = config
        self._on_deliver = on_deliver
        self._window = asyncio.Semaphore(config.window)
        self._bucket = TokenBucket(config.rate_per_s)
        self._paused_until = 0.0
        self._seq = 0
        self._conn: _Connection | None = None
        self._bound = asyncio.Event()
        self._closing = False
        self._run_task: asyncio.Task[None] | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        self._last_error: SmppError | None = None

    # --- public API -------------------------------------------------------------------------

    @property
    def bound(self) -> bool:
        return self._conn is not None and not self._conn.closed

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet answered on the current connection."""
        return len(self._conn.pending) if self._conn is not None else 0

    async def start(self) -> None:
        if self._run_task is not None:
            raise RuntimeError("SmppClient.start() called twice")
        conn = await self._connect_and_bind()
        self._conn = conn  # bound from the moment start() returns, not from the task's first step
        self._bound.set()
        self._run_task = asyncio.create_task(self._run(conn), name="smpp-client")

    async def submit(self, submit_sm: p.SubmitSm) -> p.SubmitSmResp:
        """Send ``submit_sm`` and return the SMSC's submit_sm_resp (``.message_id``).

        Waits for a window slot, the rate limit and, while disconnected, a new
        bind (up to ``reconnect_wait_s``). ESME_RTHROTTLED/ESME_RMSGQFUL pause
        the bind and resend, up to ``throttle_max_retries`` times. Raises
        ``SmppStatusError`` for a refusal, ``SmppConnectionError`` (possibly
        ``SmppTimeoutError``) when the outcome is unknown or no bind was
        available. ``submit_sm.sequence_number`` is ignored and not modified.
        """
        if self._closing:
            raise SmppConnectionError("SMPP client is closed")
        throttled = 0
        async with self._window:
            while True:
                conn = await self._ready_connection()
                delay = self._pacing_delay()
                if delay > 0:
                    await asyncio.sleep(delay)
                    if conn.closed:
                        continue
                if conn.writer.transport.get_write_buffer_size() > _WRITE_HIGH_WATER:
                    with contextlib.suppress(OSError):  # the reader notices and reconnects
                        await conn.writer.drain()
                if conn.closed:
                    continue  # nothing was sent yet: wait for the next bind instead of failing
                resp = await conn.request(submit_sm, self._next_seq())
                status = resp.command_status
                if status == st.ESME_ROK and isinstance(resp, p.SubmitSmResp):
                    return resp
                if status in st.THROTTLE_STATUSES and throttled < self._config.throttle_max_retries:
                    throttled += 1
                    self._pause(status)
                    continue
                raise SmppStatusError(status or st.ESME_RUNKNOWNERR, "submit_sm refused")

    async def close(self, drain_s: float | None = None) -> None:
        """Stop accepting submits, wait for in-flight ones and deliveries, unbind, disconnect.

        ``drain_s`` (default ``response_timeout_s``) bounds the wait for
        in-flight work; what is still running after it fails or is cancelled.
        """
        if self._closing:
            return
        self._closing = True
        budget = self._config.response_timeout_s if drain_s is None else drain_s
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(budget):
                for _ in range(self._config.window):  # all slots free = no submit in flight
                    await self._window.acquire()
                if self._deliveries:
                    await asyncio.wait(set(self._deliveries))
        conn = self._conn
        if conn is not None and not conn.closed:
            with contextlib.suppress(SmppError, TimeoutError):
                async with asyncio.timeout(self._config.response_timeout_s):
                    await conn.request(p.Unbind(), self._next_seq())
            conn.close("client closed")
        if self._run_task is not None:
            self._run_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._run_task
        for task in list(self._deliveries):
            task.cancel()
        self._bound.clear()

    # --- submit helpers ---------------------------------------------------------------------

    def _next_seq(self) -> int:
        # Sequence numbers are 1..0x7FFFFFFF (section 5.1.4); wrap rather than overflow.
        self._seq = self._seq % 0x7FFFFFFF + 1
        return self._seq

    def _pacing_delay(self) -> float:
        wait = self._bucket.reserve()
        pause = self._paused_until - asyncio.get_running_loop().time()
        return max(wait, pause)

    def _pause(self, status: int) -> None:
        until = asyncio.get_running_loop().time() + self._config.throttle_pause_s
        if until > self._paused_until:
            logger.info(
                "SMSC answered %s; pausing the bind for %.2fs",
                st.status_name(status),
                self._config.throttle_pause_s,
            )
            self._paused_until = until

    async def _ready_connection(self) -> _Connection:
        conn = self._conn
        if conn is not None and not conn.closed:
            return conn
        last = self._last_error
        if isinstance(last, SmppBindError) and not last.retryable:
            raise last
        try:
            async with asyncio.timeout(self._config.reconnect_wait_s):
                while True:
                    if self._closing:
                        raise SmppConnectionError("SMPP client is closed")
                    await self._bound.wait()
                    conn = self._conn
                    if conn is not None and not conn.closed:
                        return conn
                    await asyncio.sleep(0)  # the run loop clears the event momentarily
        except TimeoutError:
            raise SmppConnectionError(
                f"not bound to {self._config.host}:{self._config.port} after "
                f"{self._config.reconnect_wait_s}s (last error: {self._last_error})"
            ) from None

    # --- connection lifecycle ---------------------------------------------------------------

    async def _connect_and_bind(self) -> _Connection:
        cfg = self._config
        try:
            async with asyncio.timeout(cfg.response_timeout_s):
                reader, writer = await asyncio.open_connection(cfg.host, cfg.port)
        except (OSError, TimeoutError) as exc:
            raise SmppConnectionError(f"connect to {cfg.host}:{cfg.port} failed: {exc!r}") from exc
        conn = _Connection(reader, writer, cfg.response_timeout_s)
        bind = p.BindTransceiver(
            system_id=cfg.system_id, password=cfg.password, system_type=cfg.system_type
        )
        try:
            seq = self._next_seq()
            writer.write(p.encode(bind, seq))
            async with asyncio.timeout(cfg.response_timeout_s):
                resp = await p.read_pdu(reader)
        except (OSError, TimeoutError, SmppError) as exc:
            conn.close("bind failed")
            if isinstance(exc, SmppConnectionError):
                raise
            raise SmppConnectionError(f"bind to {cfg.host}:{cfg.port} failed: {exc!r}") from exc
        except BaseException:
            # Cancelled (the client is closing): the socket must not wait for the collector.
            conn.close("bind cancelled")
            raise
        if resp.command_status != st.ESME_ROK or not isinstance(resp, p.BindTransceiverResp):
            conn.close("bind refused")
            raise SmppBindError(resp.command_status or st.ESME_RBINDFAIL)
        logger.info(
            "bound transceiver %s@%s:%d (SMSC %r)",
            cfg.system_id,
            cfg.host,
            cfg.port,
            resp.system_id,
        )
        return conn

    def _backoff(self, attempt: int) -> float:
        cfg = self._config
        ceiling = min(cfg.reconnect_max_s, cfg.reconnect_initial_s * (2 ** min(attempt, 30)))
        # Jitter spreads many binds reconnecting after one SMSC restart.
        return random.uniform(ceiling / 2, ceiling)

    async def _run(self, conn: _Connection | None) -> None:
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            # The connection from start() is served even if close() came first:
            # close() needs a reader to receive its unbind_resp.
            if conn is None:
                if self._closing:
                    break
                try:
                    conn = await self._connect_and_bind()
                except SmppError as exc:
                    self._last_error = exc
                    log = logger.error if not exc.retryable else logger.warning
                    log("SMPP bind to %s:%d failed: %s", self._config.host, self._config.port, exc)
            if conn is not None:
                self._last_error = None
                self._conn = conn
                self._bound.set()
                started = loop.time()
                try:
                    reason = await self._serve(conn)
                except Exception as exc:  # noqa: BLE001 - a bug here must not end the reconnect loop
                    logger.exception("SMPP session failed")
                    reason = repr(exc)
                finally:
                    self._bound.clear()
                    conn.close("connection lost")
                if not self._closing:
                    logger.warning("SMPP connection lost: %s", reason)
                    self._last_error = SmppConnectionError(reason)
                # A session that lasted is a recovered link: start backing off from scratch.
                if loop.time() - started >= self._config.reconnect_max_s:
                    attempt = 0
                conn = None
            if self._closing:
                break
            await asyncio.sleep(self._backoff(attempt))
            attempt += 1

    async def _serve(self, conn: _Connection) -> str:
        """Read PDUs until the connection ends; return why it ended."""
        keepalive = asyncio.create_task(self._housekeeping(conn), name="smpp-keepalive")
        loop = conn.loop
        try:
            while True:
                try:
                    pdu = await p.read_pdu(conn.reader)
                except SmppFramingError as exc:
                    return f"framing error: {exc}"
                except SmppPduError as exc:
                    logger.warning("undecodable PDU from SMSC: %s", exc)
                    conn.send(
                        p.GenericNack(
                            sequence_number=exc.sequence_number, command_status=exc.command_status
                        )
                    )
                    continue
                except (SmppConnectionError, OSError) as exc:
                    return str(exc) if not conn.closed else "closed"
                conn.last_rx = loop.time()
                cid = pdu.command_id
                if cid & p.RESPONSE_BIT:
                    conn.resolve(pdu)
                elif isinstance(pdu, p.DeliverSm):
                    task = loop.create_task(self._deliver(conn, pdu))
                    self._deliveries.add(task)
                    task.add_done_callback(self._deliveries.discard)
                elif cid == p.ENQUIRE_LINK:
                    conn.send(p.response_for(pdu))
                elif cid == p.UNBIND:
                    conn.send(p.response_for(pdu))
                    return "SMSC unbound"
                else:
                    conn.send(p.response_for(pdu, st.ESME_RINVCMDID))
        finally:
            keepalive.cancel()

    async def _deliver(self, conn: _Connection, pdu: p.DeliverSm) -> None:
        status = st.ESME_ROK
        try:
            await self._on_deliver(pdu)
        except Exception:  # noqa: BLE001 - any handler failure means "not stored"
            logger.exception("on_deliver failed; answering ESME_RX_T_APPN so the SMSC retries")
            status = st.ESME_RX_T_APPN
        # If the connection dropped meanwhile the response is lost and the SMSC
        # redelivers: the handler must tolerate duplicates anyway.
        conn.send(p.DeliverSmResp(sequence_number=pdu.sequence_number, command_status=status))

    async def _housekeeping(self, conn: _Connection) -> None:
        cfg = self._config
        tick = min(1.0, cfg.response_timeout_s / 4, cfg.enquire_link_interval_s / 2)
        while not conn.closed:
            await asyncio.sleep(tick)
            conn.expire()
            enquire = conn.enquire
            if enquire is not None and enquire.done():
                conn.enquire = None
                if enquire.cancelled() or enquire.exception() is not None:
                    logger.warning("enquire_link unanswered; dropping the connection")
                    conn.writer.transport.abort()  # wakes the reader with an error
                    return
            idle = conn.loop.time() - conn.last_rx
            if conn.enquire is None and idle >= cfg.enquire_link_interval_s:
                conn.enquire = conn.request(p.EnquireLink(), self._next_seq())
