"""The webhook dispatcher against the real PostgreSQL: what it holds, it gives back clean."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from libs.http import HttpClient
from services.webhooks.config import WebhookConfig
from services.webhooks.dispatcher import Dispatcher
from services.webhooks.schema import MIGRATIONS
from services.webhooks.sender import WebhookSender
from tests.helpers.infra import schema_pool

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    async with schema_pool(database_dsn, "webhooks", MIGRATIONS) as pool:
        yield pool


async def test_stop_hands_the_listening_connection_back_without_its_listeners(
    pool: asyncpg.Pool,
) -> None:
    # asyncpg warns (an error here: pyproject's filterwarnings) when a
    # connection comes back to the pool still listening.
    async with HttpClient() as client:
        dispatcher = Dispatcher(pool, WebhookSender(client, 1.0), WebhookConfig())
        await dispatcher.start()
        await dispatcher.stop()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
