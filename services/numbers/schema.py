"""The numbers service's schema: its name and its migrations (the outbox's, then its own)."""

from __future__ import annotations

from pathlib import Path

from libs.bus import OUTBOX_MIGRATIONS
from libs.db import MigrationSource

SCHEMA = "numbers"
MIGRATIONS = (
    OUTBOX_MIGRATIONS,
    MigrationSource("numbers", Path(__file__).parent / "migrations"),
)
