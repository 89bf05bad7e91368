"""A webhook receiver for tests and benchmarks: records, verifies, can be told to fail."""

from __future__ import annotations

import asyncio
import functools
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError

_PREFIX = "/hooks/"


@functools.lru_cache(maxsize=16)
def verifier(secret: str) -> Webhook:
    """The verifier of one secret, made once: decoding the secret is most of what
    a Webhook costs, and the benchmark verifies thousands a second on the
    machine it measures."""
    return Webhook(secret)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    payload: dict[str, Any]
    verified: bool
    at: float


@dataclass
class WebhookReceiver:
    """Answers POST /hooks/<anything> with 200, or POST /hooks/fail-<n>/... with 500 to the
    first n attempts of each webhook-id (a receiver that comes back after failing), or
    POST /hooks/hold/... only once ``release`` is set (a receiver that hangs), or
    POST /hooks/gone/... with 410 (a receiver that is gone for good), or
    POST /hooks/cookie/... with a Set-Cookie (a receiver behind a session cookie)."""

    secret: str = ""
    received: list[Received] = field(default_factory=list)
    bad_signatures: int = 0
    attempts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Called with each webhook as it arrives (a test that counts finals).
    on_receive: Callable[[Received], None] | None = None
    release: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.ServerRunner | None = None
    port: int = 0

    async def start(self) -> str:
        # aiohttp's low-level server: no router, middlewares or app per request.
        self._runner = web.ServerRunner(web.Server(self._handle, access_log=None))
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/status"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.BaseRequest) -> web.Response:
        if request.method != "POST" or not request.path.startswith(_PREFIX):
            return web.Response(status=404)
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        verified = False
        try:
            verifier(self.secret).verify(body, headers)
            verified = True
        except WebhookVerificationError:
            self.bad_signatures += 1
        payload = orjson.loads(body)
        webhook_id = headers.get("webhook-id", "")
        self.attempts[webhook_id] += 1
        tail = request.path[len(_PREFIX) :]
        failures = int(tail.split("/")[0][5:]) if tail.startswith("fail-") else 0
        status = 500 if self.attempts[webhook_id] <= failures else 200
        if tail.startswith("gone/"):
            status = 410
        received = Received(headers, body, payload, verified, time.monotonic())
        if self.on_receive is not None:
            self.on_receive(received)
        async with self._changed:
            self.received.append(received)
            self._changed.notify_all()
        if tail.startswith("hold/"):
            await self.release.wait()
        if tail.startswith("cookie/"):
            return web.Response(status=status, headers={"Set-Cookie": "session=s1; Path=/"})
        return web.Response(status=status)

    def url_failing(self, times: int) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/fail-{times}/status"

    def url_gone(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/gone/status"

    def url_setting_cookie(self) -> str:
        # A host name: cookie jars ignore cookies from IP addresses.
        return f"http://localhost:{self.port}/hooks/cookie/status"

    def url_holding(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/hold/status"

    def for_message(self, message_id: str) -> list[Received]:
        return [r for r in self.received if r.payload.get("data", {}).get("id") == message_id]

    async def wait_for(self, predicate: Any, timeout_s: float = 30.0) -> None:
        async def _wait() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: predicate(self))

        await asyncio.wait_for(_wait(), timeout_s)
