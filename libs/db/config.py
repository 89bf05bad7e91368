from __future__ import annotations

import re
from dataclasses import dataclass

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    """Where a service keeps its records. Load with prefix ``OMNIGATE_DB_``.

    ``schema`` is the one schema the service owns; every query runs with it as
    the search path, so SQL names tables unqualified.
    """

    dsn: str = "postgresql://postgres@127.0.0.1:5432/omnigate"
    schema: str = ""
    min_size: int = 2
    max_size: int = 10
    command_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.dsn.startswith(("postgres://", "postgresql://")):
            raise ValueError(f"dsn must be a postgresql:// URL, got {self.dsn!r}")
        if self.schema and not _SCHEMA.match(self.schema):
            raise ValueError(f"schema must be a lower-case SQL identifier, got {self.schema!r}")
        if not 0 <= self.min_size <= self.max_size or self.max_size < 1:
            raise ValueError("need 0 <= min_size <= max_size and max_size >= 1")
        if self.command_timeout_s <= 0:
            raise ValueError("command_timeout_s must be positive")

    def with_schema(self, schema: str) -> DatabaseConfig:
        """This config for ``schema``, unless the operator named one explicitly."""
        if self.schema:
            return self
        return DatabaseConfig(
            self.dsn, schema, self.min_size, self.max_size, self.command_timeout_s
        )
