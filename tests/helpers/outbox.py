"""An OutboxWriter for servicer tests: rows go to the real outbox table, nothing is relayed."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from libs.bus import OutgoingMessage, Written, add_to_outbox


class TableOutbox:
    """What the tests read back from the ``outbox`` table; publishing is not what they test."""

    owner = "test"

    async def add(self, conn: asyncpg.Connection, messages: Sequence[OutgoingMessage]) -> Written:
        return await add_to_outbox(conn, messages, owner=self.owner)

    def committed(self, written: Written) -> None:
        pass
