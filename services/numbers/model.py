"""A number's assignment to a tenant, as stored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

# What a tenant may set on its number.
SETTABLE = ("sms_url", "voice_url", "voice_fallback_url", "status_callback")


@dataclass(frozen=True, slots=True)
class Number:
    id: str
    tenant_id: str
    address: str
    type: int
    sms_url: str
    voice_url: str
    voice_fallback_url: str
    status_callback: str
    sequence: int
    assigned_at: datetime
    updated_at: datetime
    released_at: datetime | None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Number:
        return cls(**{f.name: row[f.name] for f in fields(cls)})
