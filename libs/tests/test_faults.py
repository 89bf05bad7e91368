import asyncio
import logging

import asyncpg
import pytest
import redis.exceptions

from libs.errors import InvalidArgument, Outage, Unavailable
from libs.faults import GaveUp, Waiting, is_input_fault, is_outage, is_retryable, outlast
from libs.smpp.errors import SmppConnectionError


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(),
        TimeoutError(),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        ),
        redis.exceptions.ConnectionError("Error 111 connecting"),
        SmppConnectionError("not bound"),
        Outage("the numbers service is unavailable"),
    ],
)
def test_a_dependency_away_is_an_outage_and_retryable(exc: Exception) -> None:
    assert is_outage(exc) and is_retryable(exc) and not is_input_fault(exc)


@pytest.mark.parametrize(
    "exc, retryable",
    [
        (Unavailable("held by another attempt"), True),  # try later, but nothing is away
        (asyncpg.SerializationError("could not serialize"), True),
        (InvalidArgument("bad"), False),
        (asyncpg.CharacterNotInRepertoireError("invalid byte sequence"), False),
        (ValueError("a bug"), False),
    ],
)
def test_other_failures_are_no_outage(exc: Exception, retryable: bool) -> None:
    assert not is_outage(exc)
    assert is_retryable(exc) is retryable


async def test_outlast_calls_again_until_the_dependency_is_back() -> None:
    calls = 0

    async def attempt() -> str:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise ConnectionRefusedError("down")
        return "done"

    assert await outlast(attempt, Waiting("test"), first_wait_s=0.001) == "done"
    assert calls == 4


async def test_outlast_raises_what_is_not_an_outage_at_once() -> None:
    calls = 0

    async def attempt() -> None:
        nonlocal calls
        calls += 1
        raise InvalidArgument("bad")

    with pytest.raises(InvalidArgument):
        await outlast(attempt, Waiting("test"), first_wait_s=0.001)
    assert calls == 1


async def test_outlast_gives_up_when_its_caller_stops() -> None:
    async def attempt() -> None:
        raise ConnectionRefusedError("down")

    with pytest.raises(GaveUp) as gave_up:
        await outlast(attempt, Waiting("test"), stopping=lambda: True)
    assert isinstance(gave_up.value.__cause__, ConnectionRefusedError)


async def test_many_waiters_log_one_outage(caplog: pytest.LogCaptureFixture) -> None:
    back = asyncio.Event()

    async def attempt() -> None:
        if not back.is_set():
            raise ConnectionRefusedError("down")

    waiting = Waiting("the database")
    caplog.set_level(logging.WARNING, "omnigate.faults")
    tasks = [asyncio.ensure_future(outlast(attempt, waiting, first_wait_s=0.01)) for _ in range(50)]
    await asyncio.sleep(0.05)
    assert waiting.count == 50
    back.set()
    await asyncio.gather(*tasks)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "waiting for it to come back" in lines[0] and "back after" in lines[1]
