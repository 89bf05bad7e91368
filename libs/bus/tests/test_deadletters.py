"""Dead letters against the real RabbitMQ: listing loses none, replay starts them again."""

from __future__ import annotations

import asyncio

import pytest

from libs.bus import Bus, Consumer, Delivery, QueueSpec
from libs.bus.deadletters import dead_letters, replay
from libs.bus.tests.test_consumer import event
from libs.bus.topology import dlq_name
from libs.errors import InvalidArgument
from tests.helpers.bus import Collector, ready_count

pytestmark = pytest.mark.integration


async def test_listing_loses_nothing_and_replay_sends_the_chosen_back_as_first_attempts(
    bus: Bus, declared: list[QueueSpec]
) -> None:
    spec = QueueSpec("test.dead", events=("test.thing.*",))
    declared.append(spec)
    queue = f"{bus.config.prefix}.test.dead"
    mended = False

    def fail(d: Delivery) -> Exception | None:
        return None if mended else InvalidArgument(f"cannot handle {d.message_id}")

    got = Collector(fail=fail)
    sent = [event() for _ in range(3)]
    async with Consumer(bus, spec, got):
        await bus.publisher.publish_many(sent)
        await got.wait_for(3)
        for _ in range(100):
            if await ready_count(bus.config, dlq_name(queue)) == 3:
                break
            await asyncio.sleep(0.05)
        for _ in range(3):  # listing again and again spends nothing
            letters = await dead_letters(bus.config, "test.dead")
        assert [d.message_id for d in letters] == [m.message_id for m in sent]
        assert letters[0].error == f"InvalidArgument: cannot handle {sent[0].message_id}"
        assert letters[0].routing_key == "test.thing.created"
        assert letters[0].attempts == 1
        mended = True  # the bug is fixed: replay one
        replayed = await replay(bus.config, "test.dead", [sent[1].message_id])
        assert [d.message_id for d in replayed] == [sent[1].message_id]
        again = await got.wait_for(4)
    assert again[3].message_id == sent[1].message_id
    assert again[3].attempt == 0 and again[3].routing_key == "test.thing.created"
    assert [d.message_id for d in await dead_letters(bus.config, "test.dead")] == [
        sent[0].message_id,
        sent[2].message_id,
    ]
