"""PostgreSQL access: one asyncpg pool per service, scoped to its own schema."""

from libs.db.config import DatabaseConfig
from libs.db.growth import TableGrowth
from libs.db.migrate import MigrationSource, migrate
from libs.db.pool import create_pool

__all__ = ["DatabaseConfig", "MigrationSource", "TableGrowth", "create_pool", "migrate"]
