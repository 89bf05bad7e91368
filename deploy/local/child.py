"""Child processes that are started without fork() and awaited on any event loop.

uvloop, which runs ``make bench``, starts a subprocess with fork(), and fork()
runs every pthread_atfork handler in the parent. gRPC registers such handlers,
and once the bench had made its readiness health checks, one of them waited
forever on a lock (about one bench in 40 hung while starting its platform).
``subprocess.Popen`` starts children with vfork() or posix_spawn(), which run
no fork handlers; the parent then only needs to learn when the child exits,
which a pidfd tells any event loop.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Sequence
from typing import IO


class Child:
    """A running child process: the part of ``asyncio.subprocess.Process`` the platform uses."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen

    @classmethod
    def start(
        cls,
        args: Sequence[str],
        *,
        env: dict[str, str],
        output: IO[bytes] | None = None,
        new_session: bool = False,
    ) -> Child:
        return cls(
            subprocess.Popen(
                args, env=env, stdout=output, stderr=output, start_new_session=new_session
            )
        )

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit status (negative: killed by that signal), or None while it runs."""
        return self._popen.poll()

    def send_signal(self, sig: int) -> None:
        self._popen.send_signal(sig)  # a no-op once the child has been reaped

    def terminate(self) -> None:
        self._popen.terminate()

    def kill(self) -> None:
        self._popen.kill()

    async def wait(self) -> int:
        """Wait for the child to exit, without blocking the loop; its exit status."""
        if (code := self._popen.poll()) is not None:
            return code
        # Not reaped yet, so the pid is still this child's (if only a zombie).
        pidfd = os.pidfd_open(self._popen.pid)
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[None] = loop.create_future()

        def readable() -> None:  # once the child exits, until the reader is removed
            if not exited.done():
                exited.set_result(None)

        loop.add_reader(pidfd, readable)
        try:
            await exited
        finally:
            loop.remove_reader(pidfd)
            os.close(pidfd)
        return self._popen.wait()
