"""The sms service's database schema: its name and its migrations (the outbox's, then its own).

Both sms processes apply them at start; the first to take the migration
lock does, the other finds them done.
"""

from __future__ import annotations

from pathlib import Path

from libs.bus import OUTBOX_MIGRATIONS
from libs.db import MigrationSource

SCHEMA = "sms"
MIGRATIONS = (OUTBOX_MIGRATIONS, MigrationSource("sms", Path(__file__).parent / "migrations"))
