"""The lean HTTP client against aiohttp's server (an independent implementation) and raw sockets."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trustme
import uvloop
from aiohttp import web

from libs.http import ConnectError, HttpClient, InvalidResponse, ServerDisconnected

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOOPS: dict[str, Callable[[Coroutine[Any, Any, None]], None]] = {
    "asyncio": asyncio.run,
    "uvloop": uvloop.run,
}


def on_both_loops(test: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[str], None]:
    """Run an async test on asyncio's loop and on uvloop's (the services'): transports differ."""

    @pytest.mark.parametrize("loop", LOOPS)
    def run(loop: str) -> None:
        LOOPS[loop](test())

    run.__name__ = test.__name__
    return run


@asynccontextmanager
async def serve(
    handler: Handler, ssl_context: ssl.SSLContext | None = None, host: str = "127.0.0.1"
) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, keepalive_timeout=30)
    await runner.setup()
    site = web.TCPSite(runner, host, 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    scheme = "https" if ssl_context else "http"
    try:
        yield f"{scheme}://{'localhost' if ssl_context else host}:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def raw_server(
    answer: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[str]:
    """A server that writes exactly what ``answer`` writes: for answers aiohttp would not give."""

    async def answer_and_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await answer(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(answer_and_close, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head + await reader.readexactly(length)


@on_both_loops
async def test_posts_the_body_and_headers_and_returns_the_answer() -> None:
    seen: dict[str, object] = {}

    async def handler(request: web.Request) -> web.Response:
        seen.update(
            method=request.method,
            path=request.path_qs,
            body=await request.read(),
            sig=request.headers["webhook-signature"],
            host=request.headers["Host"],
        )
        return web.Response(status=201, text="thanks", headers={"Retry-After": "7"})

    async with HttpClient() as client:
        async with serve(handler) as base:
            r = await client.post(
                f"{base}/hooks/a?x=1", b'{"a":1}', {"webhook-signature": "v1,abc"}, timeout_s=5
            )
        assert (r.status, r.body, r.headers["retry-after"]) == (201, b"thanks", "7")
        port = base.rsplit(":", 1)[1]
        assert seen == {
            "method": "POST",
            "path": "/hooks/a?x=1",
            "body": b'{"a":1}',
            "sig": "v1,abc",
            "host": f"127.0.0.1:{port}",
        }


@on_both_loops
async def test_credentials_in_the_url_are_sent_as_basic_authentication() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=request.headers.get("Authorization", "none"))

    async with HttpClient() as client:
        async with serve(handler) as base:
            with_them = base.replace("http://", "http://hook%40user:p%3Ass@")
            r = await client.post(f"{with_them}/", b"", {}, timeout_s=5)
            plain = await client.post(f"{base}/", b"", {}, timeout_s=5)
        assert r.body == b"Basic " + base64.b64encode(b"hook@user:p:ss")
        assert plain.body == b"none"


@on_both_loops
async def test_a_connection_is_kept_alive_and_reused() -> None:
    peers: list[object] = []

    async def handler(request: web.Request) -> web.Response:
        assert request.transport is not None
        peers.append(request.transport.get_extra_info("peername"))
        return web.Response(status=204)

    async with HttpClient() as client:
        async with serve(handler) as base:
            for _ in range(5):
                assert (await client.post(f"{base}/", b"x", {}, timeout_s=5)).status == 204
        assert len(peers) == 5 and len(set(peers)) == 1


@on_both_loops
async def test_connection_close_is_honoured() -> None:
    peers: list[object] = []

    async def handler(request: web.Request) -> web.Response:
        assert request.transport is not None
        peers.append(request.transport.get_extra_info("peername"))
        return web.Response(status=200, headers={"Connection": "close"})

    async with HttpClient() as client:
        async with serve(handler) as base:
            for _ in range(3):
                assert (await client.post(f"{base}/", b"x", {}, timeout_s=5)).status == 200
        assert len(set(peers)) == 3


@on_both_loops
async def test_a_chunked_answer_is_read_whole_and_a_large_one_capped() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=500)
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(int(request.query["chunks"])):
            await response.write(b"0123456789" * 100)
        await response.write_eof()
        return response

    async with HttpClient(max_body=5000) as client:
        async with serve(handler) as base:
            small = await client.post(f"{base}/?chunks=2", b"", {}, timeout_s=5)
            large = await client.post(f"{base}/?chunks=50", b"", {}, timeout_s=5)
            after = await client.post(f"{base}/?chunks=1", b"", {}, timeout_s=5)
        assert (small.status, len(small.body)) == (500, 2000)
        assert (large.status, len(large.body)) == (500, 5000)
        assert len(after.body) == 1000


@on_both_loops
async def test_an_answer_without_length_runs_to_the_end_of_the_connection() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.0 202 Accepted\r\ncontent-type: text/plain\r\n\r\nsee you")
        await writer.drain()
        writer.close()

    async with HttpClient() as client:
        async with raw_server(answer) as base:
            r = await client.post(f"{base}/", b"x", {}, timeout_s=5)
        assert (r.status, r.body) == (202, b"see you")


@on_both_loops
async def test_an_interim_answer_is_skipped() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n"
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
        )
        await writer.drain()

    async with HttpClient() as client:
        async with raw_server(answer) as base:
            r = await client.post(f"{base}/", b"x", {}, timeout_s=5)
        assert (r.status, r.body, dict(r.headers)) == (200, b"ok", {"content-length": "2"})


@on_both_loops
async def test_endless_headers_are_an_invalid_response_not_a_memory_sink() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nx-long: ")
        with contextlib.suppress(ConnectionError):
            for _ in range(1000):  # 10 MB of one header value, if read
                writer.write(b"a" * 10_000)
                await writer.drain()

    async with HttpClient() as client, raw_server(answer) as base:
        with pytest.raises(InvalidResponse, match="headers longer"):
            await client.post(f"{base}/", b"x", {}, timeout_s=5)


@on_both_loops
async def test_an_endless_body_is_cut_at_the_cap_without_waiting_for_its_end() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 500 Oops\r\ntransfer-encoding: chunked\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            while True:  # never ends: only the client hanging up stops it
                writer.write(b"2710\r\n" + b"b" * 10_000 + b"\r\n")
                await writer.drain()

    async with HttpClient(max_body=50_000) as client:
        async with raw_server(answer) as base:
            r = await client.post(f"{base}/", b"x", {}, timeout_s=5)
        assert (r.status, len(r.body)) == (500, 50_000)


@on_both_loops
async def test_garbage_is_an_invalid_response() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
        await writer.drain()

    async with HttpClient() as client, raw_server(answer) as base:
        with pytest.raises(InvalidResponse):
            await client.post(f"{base}/", b"x", {}, timeout_s=5)


@on_both_loops
async def test_a_server_that_hangs_up_mid_answer_is_a_disconnect() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this")
        await writer.drain()
        writer.close()

    async with HttpClient() as client, raw_server(answer) as base:
        with pytest.raises(ServerDisconnected):
            await client.post(f"{base}/", b"x", {}, timeout_s=5)


@on_both_loops
async def test_a_kept_connection_closed_by_the_server_is_not_reused() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()  # and closed at once, as an idle keep-alive timeout would

    async with HttpClient() as client, raw_server(answer) as base:
        assert (await client.post(f"{base}/1", b"a", {}, timeout_s=5)).status == 200
        await asyncio.sleep(0.1)
        assert (await client.post(f"{base}/2", b"b", {}, timeout_s=5)).status == 200


@on_both_loops
async def test_a_request_the_server_hung_up_on_unanswered_is_sent_again_once() -> None:
    requests: list[tuple[int, bytes]] = []
    connections = 0

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        n = connections
        while True:
            request = await read_request(reader)
            requests.append((n, request.split(b" ")[1]))
            if n == 1 and len(requests) == 2:
                # Hung up without a byte: the race of an idle timeout with a request.
                return
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()

    async with HttpClient() as client:
        async with raw_server(answer) as base:
            assert (await client.post(f"{base}/1", b"a", {}, timeout_s=5)).status == 200
            assert (await client.post(f"{base}/2", b"b", {}, timeout_s=5)).status == 200
        assert requests == [(1, b"/1"), (1, b"/2"), (2, b"/2")]


@on_both_loops
async def test_a_fresh_connection_hung_up_on_is_a_disconnect() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)

    async with HttpClient() as client, raw_server(answer) as base:
        with pytest.raises(ServerDisconnected):
            await client.post(f"{base}/", b"x", {}, timeout_s=5)


@on_both_loops
async def test_a_slow_server_is_a_timeout_and_its_connection_closed() -> None:
    hung_up = asyncio.Event()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await reader.read()  # no answer; until the client closes its end
        hung_up.set()

    async with HttpClient() as client, raw_server(answer) as base:
        with pytest.raises(TimeoutError):
            await client.post(f"{base}/", b"x", {}, timeout_s=0.2)
        await asyncio.wait_for(hung_up.wait(), 2)


@on_both_loops
async def test_refused_and_blocked_connections_are_connect_errors() -> None:
    class Blocked(OSError):
        pass

    async def refuse(host: str, port: int) -> list[str]:
        raise Blocked(f"{host} is not allowed")

    async def ok(request: web.Request) -> web.Response:
        return web.Response()

    async with serve(ok) as base:
        pass  # closed again: nothing listens on its port now
    async with HttpClient() as client, HttpClient(resolve=refuse) as blocking:
        with pytest.raises(ConnectError) as refused:
            await client.post(f"{base}/", b"x", {}, timeout_s=5)
        assert isinstance(refused.value.os_error, ConnectionRefusedError)
        with pytest.raises(ConnectError) as blocked:
            await blocking.post("http://example.test/", b"x", {}, timeout_s=5)
        assert isinstance(blocked.value.os_error, Blocked)


@on_both_loops
async def test_no_more_requests_in_flight_than_the_limit() -> None:
    now = peak = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal now, peak
        now += 1
        peak = max(peak, now)
        await asyncio.sleep(0.02)
        now -= 1
        return web.Response(status=204)

    async with HttpClient(limit=3) as client:
        async with serve(handler) as base:
            answers = await asyncio.gather(
                *(client.post(f"{base}/", b"x", {}, timeout_s=5) for _ in range(12))
            )
        assert {a.status for a in answers} == {204}
        assert peak == 3


@on_both_loops
async def test_idle_connections_are_closed_after_the_idle_timeout() -> None:
    closed = asyncio.Event()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()
        await reader.read()  # until the client closes its end
        closed.set()

    async with HttpClient(idle_timeout_s=0.1) as client, raw_server(answer) as base:
        await client.post(f"{base}/", b"x", {}, timeout_s=5)
        await asyncio.wait_for(closed.wait(), 5)


@on_both_loops
async def test_a_host_with_spaces_is_refused_before_anything_is_sent() -> None:
    async with HttpClient() as client:
        with pytest.raises(ValueError, match="spaces or control"):
            await client.post("http://exa mple.com/", b"", {}, timeout_s=1)


@on_both_loops
async def test_header_values_that_would_split_the_request_are_refused() -> None:
    async with HttpClient() as client:
        with pytest.raises(ValueError, match="would break"):
            await client.post("http://127.0.0.1:9/", b"", {"x": "a\r\nb: c"}, timeout_s=1)


@on_both_loops
async def test_https_checks_the_certificate_against_the_host_name() -> None:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)

    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=200, text=request.scheme)

    async def to_loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    async with (
        HttpClient(ssl_context=trusting, resolve=to_loopback) as good,
        HttpClient(resolve=to_loopback) as untrusting,
        serve(handler, ssl_context=server_ctx) as base,
    ):
        r = await good.post(f"{base}/", b"x", {}, timeout_s=5)
        assert (r.status, r.body) == (200, b"https")
        with pytest.raises(ConnectError) as failed:
            await untrusting.post(f"{base}/", b"x", {}, timeout_s=5)
        assert isinstance(failed.value.os_error, ssl.SSLCertVerificationError)
        # The certificate names localhost, not this address.
        wrong_name = base.replace("localhost", "127.0.0.1")
        with pytest.raises(ConnectError):
            await good.post(f"{wrong_name}/", b"x", {}, timeout_s=5)
