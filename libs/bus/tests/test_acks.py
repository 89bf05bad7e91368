"""Which ack frames ChannelAcks sends, and in what order (the broker's side is in test_consumer)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import aiormq
import pytest

from libs.bus.acks import ChannelAcks


class Recording:
    """Records basic_ack frames as the channel would send them."""

    def __init__(self, fail: bool = False) -> None:
        self.frames: list[tuple[int, bool]] = []
        self._fail = fail

    async def basic_ack(self, tag: int, multiple: bool = False) -> None:
        await asyncio.sleep(0)  # the write queue may make the sender wait
        if self._fail:
            raise aiormq.exceptions.ChannelInvalidStateError("closed")
        self.frames.append((tag, multiple))


def acks_of(channel: Recording, hold_s: float = 0.05) -> ChannelAcks:
    return ChannelAcks(cast(Any, channel), hold_s=hold_s)


async def turns(n: int = 3) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_acks_of_one_turn_leave_as_one_multiple_ack() -> None:
    channel = Recording()
    acks = acks_of(channel)
    for tag in (2, 1, 3):
        acks.ack(tag)
    await turns()
    assert channel.frames == [(3, True)]


async def test_an_ack_behind_a_delivery_in_hand_waits_then_goes_alone() -> None:
    channel = Recording()
    acks = acks_of(channel, hold_s=0.02)
    acks.ack(2)
    acks.ack(3)
    await turns()
    assert channel.frames == []  # 1 is still being handled
    await asyncio.sleep(0.05)
    assert channel.frames == [(2, False), (3, False)]
    acks.ack(1)
    acks.ack(4)
    await turns()
    # The multiple-ack ends at 4 and covers 1; 2 and 3 are no longer outstanding.
    assert channel.frames[2:] == [(4, True)]


async def test_the_run_passes_rejected_tags_but_never_ends_on_one() -> None:
    channel = Recording()
    acks = acks_of(channel)
    acks.settled_elsewhere(2)
    acks.ack(1)
    acks.settled_elsewhere(4)
    acks.ack(3)
    await turns()
    # Not (4, True): 4 was rejected, and an ack of an unknown tag closes the channel.
    assert channel.frames == [(3, True)]
    acks.ack(5)
    await turns()
    assert channel.frames == [(3, True), (5, True)]


async def test_a_run_of_rejected_tags_alone_sends_nothing() -> None:
    channel = Recording()
    acks = acks_of(channel, hold_s=0.01)
    acks.settled_elsewhere(1)
    acks.settled_elsewhere(2)
    await asyncio.sleep(0.03)
    assert channel.frames == []


async def test_close_sends_every_ack_decided_or_held() -> None:
    channel = Recording()
    acks = acks_of(channel, hold_s=10.0)
    acks.ack(1)
    acks.ack(3)  # 2 never settles (its handler was cancelled)
    await acks.close()
    assert channel.frames == [(1, True), (3, False)]


async def test_a_failed_ack_is_logged_and_the_rest_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    channel = Recording(fail=True)
    acks = acks_of(channel, hold_s=0.0)
    acks.ack(2)
    acks.ack(3)
    with caplog.at_level(logging.WARNING, "omnigate.bus"):
        await acks.close()
    assert channel.frames == []
    assert [r.getMessage() for r in caplog.records] == [
        "ack of delivery 2 failed; the broker will redeliver"
    ]
