"""The benchmark's webhook receiver: verifies every signature, notes when each webhook arrived.

The end-to-end tests receive webhooks with aiohttp's server
(tests/helpers/webhooks.py), which costs about 60 us of CPU per request
here. The benchmark receives two webhooks per message on the machine it
measures, so it answers them with a bare protocol on httptools instead:
parse, verify, answer 200 on the same kept-alive connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import cast

import httptools
import orjson
from standardwebhooks import WebhookVerificationError

from tests.helpers.webhooks import Received, verifier

_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class BenchReceiver:
    """Answers every POST with 200; counts the webhooks whose signature does not verify."""

    def __init__(self, on_receive: Callable[[Received], None]) -> None:
        self.on_receive = on_receive
        self.bad_signatures = 0
        self._server: asyncio.Server | None = None
        self.secret = ""

    async def start(self) -> str:
        """Listen on a free port of 127.0.0.1; the URL to give as status_callback."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/hooks/status"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def receive(self, headers: dict[str, str], body: bytes) -> None:
        verified = True
        try:
            # A verified body comes back parsed: not parsed a second time here.
            payload = verifier(self.secret).verify(body, headers)
        except WebhookVerificationError:
            verified = False
            self.bad_signatures += 1
            payload = orjson.loads(body)
        self.on_receive(Received(headers, body, payload, verified, time.monotonic()))


class _Connection(asyncio.Protocol):
    def __init__(self, receiver: BenchReceiver) -> None:
        self._receiver = receiver
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.write(_BAD_REQUEST)
                self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def on_message_begin(self) -> None:
        self._headers, self._body = {}, []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, chunk: bytes) -> None:
        self._body.append(chunk)

    def on_message_complete(self) -> None:
        self._receiver.receive(self._headers, b"".join(self._body))
        if self._transport is not None:
            self._transport.write(_OK)
            if not self._parser.should_keep_alive():
                self._transport.close()
