"""The edge's database schema: tenants, keys, idempotency keys, webhook endpoints and deliveries."""

from __future__ import annotations

from pathlib import Path

from libs.db import MigrationSource

SCHEMA = "edge"
MIGRATIONS = (MigrationSource("edge", Path(__file__).parent / "migrations"),)
