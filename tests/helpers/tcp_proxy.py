"""A TCP proxy for fault tests: put it between a client and a server, then cut the line.

``cut()`` aborts every connection in flight (the client sees a reset, as
when a broker restarts or a load balancer drops it) and keeps refusing new
ones until ``restore()``, so a test can hold an outage open for as long as
it wants to observe reconnecting. ``freeze()`` holds every byte instead,
with the connections open (a server that stops answering), until ``thaw()``.
"""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    """Listens on a free port of 127.0.0.1 and forwards each connection to ``target``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()
        self._refusing = False
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.port = 0
        self.connections = 0  # accepted and forwarded, over the proxy's life

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        self._drop_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def __aenter__(self) -> TcpProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def cut(self) -> None:
        """Reset every connection and refuse new ones until ``restore``."""
        self._refusing = True
        self._drop_all()

    def restore(self) -> None:
        self._refusing = False

    def freeze(self) -> None:
        """Forward nothing more, in either direction, until ``thaw``; close nothing."""
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def _drop_all(self) -> None:
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self._refusing:
            client_w.transport.abort()
            return
        try:
            server_r, server_w = await asyncio.open_connection(*self._target)
        except OSError:
            client_w.transport.abort()
            return
        self.connections += 1
        self._open |= {client_w, server_w}
        for src, dst in ((client_r, server_w), (server_r, client_w)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await src.read(65536):
                await self._flowing.wait()
                dst.write(data)
                await dst.drain()
        # One side ended: end the other, as a real connection would.
        self._open.discard(dst)
        dst.transport.abort()
