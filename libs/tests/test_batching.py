import asyncio
from collections.abc import Sequence

import pytest

from libs.batching import MicroBatcher


async def test_items_submitted_together_are_flushed_as_one_batch() -> None:
    batches: list[list[int]] = []

    async def flush(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        return [i * 2 for i in items]

    batcher = MicroBatcher(flush, max_size=100, max_delay_s=0.01)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(10)))
    assert results == [i * 2 for i in range(10)]
    assert batches == [list(range(10))]
    await batcher.close()


async def test_a_full_batch_is_flushed_without_waiting_for_the_delay() -> None:
    batches: list[int] = []

    async def flush(items: Sequence[int]) -> list[None]:
        batches.append(len(items))
        return [None] * len(items)

    batcher = MicroBatcher(flush, max_size=4, max_delay_s=60)
    await asyncio.wait_for(asyncio.gather(*(batcher.submit(i) for i in range(8))), 5)
    assert batches == [4, 4]


async def test_a_failed_flush_fails_every_item_of_its_batch_only() -> None:
    calls = 0

    async def flush(items: Sequence[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database went away")
        return list(items)

    batcher = MicroBatcher(flush, max_size=2, max_delay_s=0.001)
    first = await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in first)
    assert await batcher.submit(3) == 3


async def test_close_flushes_pending_items() -> None:
    seen: list[int] = []

    async def flush(items: Sequence[int]) -> list[None]:
        seen.extend(items)
        return [None] * len(items)

    batcher = MicroBatcher(flush, max_size=100, max_delay_s=60)
    pending = asyncio.ensure_future(batcher.submit(7))
    await asyncio.sleep(0)
    await batcher.close()
    await pending
    assert seen == [7]
    with pytest.raises(RuntimeError):
        await batcher.submit(8)


class HeldFlush:
    """A flush that records each batch and returns only once ``release`` is set."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()

    async def __call__(self, items: Sequence[int]) -> list[None]:
        self.batches.append(list(items))
        await self.release.wait()
        return [None] * len(items)


async def test_items_arriving_while_every_flush_is_busy_wait_as_one_batch() -> None:
    # Group commit: a slow flush makes the next batch bigger, not the queue of batches longer.
    flush = HeldFlush()
    batcher = MicroBatcher(flush, max_size=100, max_delay_s=0.001, max_concurrency=1)
    pending = [asyncio.ensure_future(batcher.submit(0))]
    await asyncio.sleep(0.01)
    for i in range(1, 6):
        pending.append(asyncio.ensure_future(batcher.submit(i)))
        await asyncio.sleep(0.005)  # each past the delay: alone, each would be a batch
    flush.release.set()
    await asyncio.wait_for(asyncio.gather(*pending), 5)
    assert flush.batches == [[0], [1, 2, 3, 4, 5]]
    await batcher.close()


async def test_a_busy_batcher_still_flushes_at_most_max_size_at_once() -> None:
    flush = HeldFlush()
    batcher = MicroBatcher(flush, max_size=3, max_delay_s=0.001, max_concurrency=1)
    first = asyncio.ensure_future(batcher.submit(0))
    await asyncio.sleep(0.01)
    rest = [asyncio.ensure_future(batcher.submit(i)) for i in range(1, 8)]
    await asyncio.sleep(0.01)
    flush.release.set()
    await asyncio.wait_for(asyncio.gather(first, *rest), 5)
    assert [len(b) for b in flush.batches] == [1, 3, 3, 1]
    await batcher.close()


async def test_a_finished_flush_does_not_cut_the_next_batch_short() -> None:
    # Items gather for their delay unless every flush is busy. Leaving at the
    # end of any flush made the webhook records' 50 ms batches a quarter of
    # their size, and four times as many commits.
    flush = HeldFlush()
    batcher = MicroBatcher(flush, max_size=2, max_delay_s=60, max_concurrency=2)
    first = [asyncio.ensure_future(batcher.submit(i)) for i in (0, 1)]  # full: leaves at once
    await asyncio.sleep(0.01)
    late = asyncio.ensure_future(batcher.submit(2))
    await asyncio.sleep(0.01)
    flush.release.set()
    await asyncio.wait_for(asyncio.gather(*first), 5)
    await asyncio.sleep(0.01)
    assert flush.batches == [[0, 1]]
    last = asyncio.ensure_future(batcher.submit(3))  # fills the waiting batch
    await asyncio.wait_for(asyncio.gather(late, last), 5)
    assert flush.batches == [[0, 1], [2, 3]]
    await batcher.close()


async def test_a_batch_failed_by_its_input_is_split_until_only_the_bad_items_fail() -> None:
    flushed: list[list[int]] = []

    async def flush(items: Sequence[int]) -> list[int]:
        # All or nothing, like a transaction: one negative item fails the statement.
        flushed.append(list(items))
        if any(i < 0 for i in items):
            raise ValueError(f"cannot store {min(items)}")
        return [i * 10 for i in items]

    batcher = MicroBatcher(
        flush, max_size=64, max_delay_s=0.01, split_on=lambda e: isinstance(e, ValueError)
    )
    items = [-1 if i in (5, 40) else i for i in range(64)]
    results = await asyncio.gather(*(batcher.submit(i) for i in items), return_exceptions=True)
    for item, result in zip(items, results, strict=True):
        if item < 0:
            assert isinstance(result, ValueError)
        else:
            assert result == item * 10
    # Two bad items among 64: each is found in log2(64) = 6 halvings, not 64 flushes.
    assert len(flushed) <= 1 + 2 * 2 * 6
    assert [batch for batch in flushed if batch == [-1]] == [[-1], [-1]]
    await batcher.close()


async def test_a_batch_is_not_split_for_a_failure_that_is_not_the_inputs() -> None:
    flushed: list[int] = []

    async def flush(items: Sequence[int]) -> list[int]:
        flushed.append(len(items))
        raise ConnectionError("database went away")

    batcher = MicroBatcher(
        flush, max_size=8, max_delay_s=0.01, split_on=lambda e: isinstance(e, ValueError)
    )
    results = await asyncio.gather(*(batcher.submit(i) for i in range(8)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert flushed == [8]


async def test_a_result_that_is_an_exception_is_a_result_not_a_failure() -> None:
    async def flush(items: Sequence[int]) -> list[Exception]:
        return [KeyError(i) for i in items]

    batcher: MicroBatcher[int, Exception] = MicroBatcher(flush, max_delay_s=0.001)
    result = await batcher.submit(3)
    assert isinstance(result, KeyError)
    await batcher.close()
