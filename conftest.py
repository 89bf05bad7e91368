"""Fixtures shared by every test folder (libs/, services/, tests/)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.helpers.infra import temporary_database, unique_name


@pytest.fixture(scope="session")
async def database_dsn() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    async with temporary_database() as dsn:
        yield dsn


@pytest.fixture
def bus_prefix() -> str:
    """A bus name prefix unique to one test."""
    return unique_name("bus")
