"""A lean HTTP/1.1 client for hot paths: kept-alive connections per origin, parsed by httptools.

The webhook sender makes two POSTs per message. On this machine one POST on
a kept-alive connection costs aiohttp's client about 100 us of CPU: it builds
a request object, a response object, timers, traces and a cookie filter for
each. This client writes the request in one ``write`` and parses the answer
with httptools (llhttp, the parser of Node.js, also under uvicorn), for about
25 us (docs/performance.md). It does what such callers need and no more: one
request at a time per connection, no redirects, cookies, proxies or
compression, and a response body capped at ``max_body`` (a receiver's answer
is read for its status, not its content).

Addresses come from ``resolve`` (the loop's getaddrinfo by default), so a
caller can refuse some: the webhook sender's SSRF guard raises there, and
the client reports it as a ``ConnectError`` whose ``os_error`` it is.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

import httptools
from yarl import URL

# host, port -> the addresses to try, in order.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# What a server may send before its headers end: httptools itself sets no limit,
# and the webhook sender talks to servers its tenants choose.
MAX_HEAD_BYTES = 64 * 1024


class HttpError(Exception):
    """The request got no (complete) answer; what happened is in the message."""


class ConnectError(HttpError):
    """No connection to the origin: ``os_error`` says why (refused, unresolvable, blocked...)."""

    def __init__(self, origin: str, os_error: OSError) -> None:
        super().__init__(f"cannot connect to {origin}: {os_error}")
        self.os_error = os_error


class ServerDisconnected(HttpError):
    """The connection closed before the answer was complete."""


class InvalidResponse(HttpError):
    """What came back is not HTTP/1.x."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    # Lower-cased names; a repeated header keeps its last value.
    headers: Mapping[str, str]
    # At most the client's ``max_body`` bytes; the rest is not read.
    body: bytes


@dataclass(frozen=True, slots=True)
class _Target:
    origin: tuple[str, str, int]  # scheme, host, port
    head: bytes  # request line and Host header


@lru_cache(maxsize=4096)
def _target(method: str, url: str) -> _Target:
    # The same few URLs come back for every webhook: parse each once.
    parsed = URL(url)
    scheme, host = parsed.scheme, parsed.raw_host
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"not an http or https URL: {url!r}")
    if not host:
        raise ValueError(f"URL names no host: {url!r}")
    if any(ch <= " " for ch in host):
        raise ValueError(f"URL host has spaces or control characters: {url!r}")
    port = parsed.port or _DEFAULT_PORTS[scheme]
    authority = f"[{host}]" if ":" in host else host
    if port != _DEFAULT_PORTS[scheme]:
        authority = f"{authority}:{port}"
    head = f"{method} {parsed.raw_path_qs or '/'} HTTP/1.1\r\nhost: {authority}\r\n"
    if parsed.user is not None:
        # https://user:password@host/ as Twilio's callbacks allow: Basic authentication.
        credentials = f"{parsed.user}:{parsed.password or ''}".encode()
        head += f"authorization: Basic {base64.b64encode(credentials).decode()}\r\n"
    return _Target((scheme, host, port), head.encode("ascii"))


def _header_block(headers: Mapping[str, str], body: bytes) -> bytes:
    lines = []
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            raise ValueError(f"header {name!r} would break the request")
        lines.append(f"{name}: {value}\r\n")
    lines.append(f"content-length: {len(body)}\r\n\r\n")
    return "".join(lines).encode("latin-1")


async def getaddrinfo(host: str, port: int) -> list[str]:
    """The default ``Resolver``: the loop's getaddrinfo, addresses as strings, in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class _Connection(asyncio.Protocol):
    """One connection: sends a request, parses its answer, and says whether it can be reused."""

    def __init__(self, max_body: int) -> None:
        self._max_body = max_body
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.reusable = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[Response] | None = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._head_bytes = 0
        self._headers_done = False
        self._got_bytes = False

    # -- asyncio.Protocol ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's are not subclasses of asyncio.Transport).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            # Nothing was asked: a server that talks out of turn is not reused.
            self.close()
            return
        self._got_bytes = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(InvalidResponse("the server switched protocols"))
            return
        except httptools.HttpParserError as exc:
            self._fail(InvalidResponse(f"invalid HTTP response: {exc}"))
            return
        if not self._headers_done:
            # Counted by the read (at most the transport's buffer), not by the byte.
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._fail(InvalidResponse(f"response headers longer than {MAX_HEAD_BYTES} bytes"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        self.transport = None
        if self._waiter is not None and not self._waiter.done():
            if self._headers_done and not self._parser.should_keep_alive():
                # No length given: the body ran to the end of the connection.
                self._complete()
            else:
                self._fail(ServerDisconnected("the server closed the connection"))

    # -- httptools callbacks ---------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, chunk: bytes) -> None:
        room = self._max_body - self._size
        if room > 0:
            self._body.append(chunk[:room])
        self._size += len(chunk)
        if self._size > self._max_body:
            # Enough read: the answer is what was kept, the rest goes with the connection.
            self._complete()

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:
            # An interim answer (103 Early Hints): the real one follows.
            self._headers, self._body, self._size, self._headers_done = {}, [], 0, False
            self._head_bytes = 0
            return
        self.reusable = self._parser.should_keep_alive() and self._size <= self._max_body
        self._complete()

    # -- the request ---------------------------------------------------------------

    async def exchange(self, request: bytes) -> Response:
        """Send one request and await its answer (the caller guards the time it takes)."""
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self._headers, self._body, self._size, self._head_bytes = {}, [], 0, 0
        self._headers_done = self._got_bytes = False
        self.reusable = False
        self.transport.write(request)
        try:
            return await self._waiter
        finally:
            self._waiter = None
            if not self.reusable:
                self.close()

    @property
    def answered_nothing(self) -> bool:
        """Whether the last request got not one byte back (safe to send again elsewhere)."""
        return not self._got_bytes

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.abort()
            self.transport = None

    def _complete(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            status = self._parser.get_status_code()
            self._waiter.set_result(Response(status, self._headers, b"".join(self._body)))

    def _fail(self, exc: HttpError) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self.close()


class HttpClient:
    """Pooled keep-alive connections per origin; at most ``limit`` requests in flight."""

    def __init__(
        self,
        *,
        limit: int = 100,
        idle_timeout_s: float = 15.0,
        max_body: int = 64 * 1024,
        resolve: Resolver = getaddrinfo,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._limit = limit
        self._idle_timeout_s = idle_timeout_s
        self._max_body = max_body
        self._resolve = resolve
        self._ssl = ssl_context
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, timeout_s: float
    ) -> Response:
        return await self.request("POST", url, body, headers, timeout_s=timeout_s)

    async def request(
        self,
        method: str,
        url: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        timeout_s: float,
    ) -> Response:
        """One request and its answer; raises ``HttpError`` or ``TimeoutError`` without one."""
        if self._closed:
            raise RuntimeError("the client is closed")
        target = _target(method, url)
        request = target.head + _header_block(headers or {}, body) + body
        async with self._slots, asyncio.timeout(timeout_s):
            conn = self._pooled(target.origin)
            if conn is not None:
                try:
                    return await self._exchange(target.origin, conn, request)
                except ServerDisconnected:
                    if not conn.answered_nothing:
                        raise
                    # The server had closed the idle connection as we sent: nothing
                    # reached it, so the request goes once more on a fresh one.
            conn = await self._connect(target.origin)
            return await self._exchange(target.origin, conn, request)

    async def close(self) -> None:
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()

    async def _exchange(
        self, origin: tuple[str, str, int], conn: _Connection, request: bytes
    ) -> Response:
        response = await conn.exchange(request)
        if conn.reusable and not self._closed:
            self._put_back(origin, conn)
        return response

    def _usable(self, conn: _Connection, now: float) -> bool:
        return conn.reusable and now - conn.idle_since < self._idle_timeout_s

    def _pooled(self, origin: tuple[str, str, int]) -> _Connection | None:
        conns = self._idle.get(origin)
        now = asyncio.get_running_loop().time()
        while conns:
            conn = conns.pop()
            if self._usable(conn, now):
                return conn
            conn.close()
        return None

    def _put_back(self, origin: tuple[str, str, int], conn: _Connection) -> None:
        conns = self._idle.setdefault(origin, [])
        if len(conns) >= self._limit:
            conn.close()
            return
        loop = asyncio.get_running_loop()
        conn.idle_since = loop.time()
        conns.append(conn)
        if self._sweeper is None:
            self._sweeper = loop.call_later(self._idle_timeout_s, self._sweep)

    def _sweep(self) -> None:
        """Close connections idle too long, so a quiet client holds no sockets."""
        self._sweeper = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        for origin, conns in list(self._idle.items()):
            keep = []
            for conn in conns:
                if self._usable(conn, now):
                    keep.append(conn)
                else:
                    conn.close()
            if keep:
                self._idle[origin] = keep
            else:
                del self._idle[origin]
        if self._idle:
            self._sweeper = loop.call_later(self._idle_timeout_s, self._sweep)

    async def _connect(self, origin: tuple[str, str, int]) -> _Connection:
        scheme, host, port = origin
        name = f"{scheme}://{host}:{port}"
        try:
            addresses = await self._resolve(host, port)
        except OSError as exc:
            raise ConnectError(name, exc) from exc
        if not addresses:
            raise ConnectError(name, OSError(f"{host} resolved to no address"))
        ssl_context: ssl.SSLContext | None = None
        if scheme == "https":
            ssl_context = self._ssl or _default_ssl_context()
        loop = asyncio.get_running_loop()
        error: OSError = OSError("no address tried")
        for address in addresses:
            try:
                _, conn = await loop.create_connection(
                    lambda: _Connection(self._max_body),
                    address,
                    port,
                    ssl=ssl_context,
                    server_hostname=host if ssl_context else None,
                )
                return conn
            except OSError as exc:  # ssl.SSLError included
                error = exc
        raise ConnectError(name, error) from error


@lru_cache(maxsize=1)
def _default_ssl_context() -> ssl.SSLContext:
    # Loading the system's CA store takes milliseconds: once per process.
    return ssl.create_default_context()
