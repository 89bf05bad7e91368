"""gather without a task for one awaitable, the same results as asyncio.gather otherwise."""

from __future__ import annotations

import asyncio

import pytest

from libs.aio import gather, gather_outcomes


async def _task() -> asyncio.Task[object] | None:
    return asyncio.current_task()


async def _value(v: int) -> int:
    await asyncio.sleep(0)
    return v


async def _fail() -> int:
    raise ValueError("no")


async def test_a_lone_awaitable_runs_in_the_callers_task() -> None:
    assert await gather(_task()) == [asyncio.current_task()]
    assert await gather_outcomes(_task()) == [asyncio.current_task()]


async def test_several_keep_their_order() -> None:
    assert await gather(_value(1), _value(2), _value(3)) == [1, 2, 3]
    assert await gather() == []


async def test_errors_raise_or_are_returned_as_asyncio_gather_does() -> None:
    with pytest.raises(ValueError, match="no"):
        await gather(_fail())
    (lone,) = await gather_outcomes(_fail())
    assert isinstance(lone, ValueError)
    ok, failed = await gather_outcomes(_value(1), _fail())
    assert ok == 1 and isinstance(failed, ValueError)
