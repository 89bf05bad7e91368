"""Acks of one channel, sent as multiple-acks wherever the order of completion allows.

An ack is a frame on the broker socket (a write system call that also runs
the broker's side of loopback TCP) and, on a quorum queue, a settlement the
broker writes to its Raft log. Acked one by one, they were the webhooks
process's largest socket cost (py-spy: 6.6 % of its CPU in writing them).
``basic.ack`` with ``multiple`` settles every outstanding delivery up to its
tag, so handlers that finish in the same loop turn are acked with one frame.

Delivery tags on a channel are consecutive from 1. A multiple-ack is sent
only up to the end of the run of consecutive tags known to be settled, so
it never covers a delivery still in hand, nor one this consumer never saw.
An ack the run cannot reach yet (a delivery before it is still being
handled) waits at most ``hold_s`` and then goes alone, so a slow handler
holds back others' acks, and their prefetch slots, only briefly.

Acks go out in the order they were decided, from one task: a multiple-ack
must not overtake an ack of a tag it covers, or the broker would find that
tag unknown and close the channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

import aiormq

log = logging.getLogger("omnigate.bus")

HOLD_S = 0.05


class ChannelAcks:
    """The acks of one aiormq channel's deliveries (its consumer's own channel)."""

    def __init__(self, channel: aiormq.Channel, hold_s: float = HOLD_S) -> None:
        self.channel = channel
        self._hold_s = hold_s
        # Every tag up to _through is settled, and its ack (if any) decided.
        self._through = 0
        # Settled tags above _through: acks waiting (in _waiting) or settled otherwise.
        self._settled: set[int] = set()
        self._waiting: set[int] = set()
        self._flush_soon = False
        self._hold: asyncio.TimerHandle | None = None
        # Decided acks, (tag, multiple), in order, and the task that sends them.
        self._outgoing: deque[tuple[int, bool]] = deque()
        self._sender: asyncio.Task[None] | None = None

    def ack(self, tag: int) -> None:
        """Ack ``tag`` (its handler committed): sent at the end of this loop turn or later."""
        self._settled.add(tag)
        self._waiting.add(tag)
        if not self._flush_soon:
            self._flush_soon = True
            asyncio.get_running_loop().call_soon(self._flush)

    def settled_elsewhere(self, tag: int) -> None:
        """``tag`` was rejected or nacked: a later multiple-ack may reach past it."""
        self._settled.add(tag)

    async def close(self) -> None:
        """Send every ack decided or waiting, then return (before the channel closes)."""
        self._flush()
        self._release_held()
        if self._sender is not None:
            await asyncio.shield(self._sender)

    def _flush(self) -> None:
        self._flush_soon = False
        last = None
        tag = self._through + 1
        while tag in self._settled:
            self._settled.discard(tag)
            if tag in self._waiting:
                self._waiting.discard(tag)
                last = tag
            tag += 1
        self._through = tag - 1
        if last is not None:
            # Tags below it that were rejected are no longer outstanding; acked ones are.
            self._send(last, multiple=True)
        if self._waiting and self._hold is None:
            self._hold = asyncio.get_running_loop().call_later(self._hold_s, self._release_held)

    def _release_held(self) -> None:
        if self._hold is not None:
            self._hold.cancel()
            self._hold = None
        # Each goes alone; its tag stays in _settled so that the run can pass it later.
        for tag in sorted(self._waiting):
            self._send(tag, multiple=False)
        self._waiting.clear()

    def _send(self, tag: int, multiple: bool) -> None:
        self._outgoing.append((tag, multiple))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_all(), name="acks")

    async def _send_all(self) -> None:
        try:
            while self._outgoing:
                tag, multiple = self._outgoing.popleft()
                try:
                    await self.channel.basic_ack(tag, multiple=multiple)
                except Exception:  # noqa: BLE001 - the broker redelivers what a lost channel held
                    log.warning("ack of delivery %d failed; the broker will redeliver", tag)
                    self._outgoing.clear()
        finally:
            self._sender = None
