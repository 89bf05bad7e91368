"""The webhooks service's schema: tenants' signing secrets, endpoints, deliveries, attempts."""

from __future__ import annotations

from pathlib import Path

from libs.db import MigrationSource

SCHEMA = "webhooks"
MIGRATIONS = (MigrationSource("webhooks", Path(__file__).parent / "migrations"),)
