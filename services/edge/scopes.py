"""What an API key may do: a read and a write scope per resource, and presets that grow.

A scope is ``<resource>:read`` (GET) or ``<resource>:write`` (anything that
changes something), for each resource of the public API (``RESOURCES``).
A key holds scopes and presets by name, and a preset is resolved when a
request is checked, not when the key is issued, so keys made with one keep
covering the resources added later:

- ``full``: every scope;
- ``read-only``: every ``:read`` scope;
- ``send-only``: the scopes that reach a person (``SENDING``: sending a
  message; placing a call or triggering a notification, as those arrive).
"""

from __future__ import annotations

from collections.abc import Iterable

from libs.errors import InvalidArgument

READ = "read"
WRITE = "write"

# Every resource of /v1 that a scope names (a route's scope must name one of them).
RESOURCES = frozenset({"messages", "numbers", "webhooks"})
SCOPES = frozenset(f"{r}:{a}" for r in RESOURCES for a in (READ, WRITE))
SENDING = frozenset({"messages:write"})

FULL = "full"
READ_ONLY = "read-only"
SEND_ONLY = "send-only"
PRESETS = frozenset({FULL, READ_ONLY, SEND_ONLY})


def scope(resource: str, access: str) -> str:
    """The scope of ``access`` (read or write) to ``resource``; a name not in the API fails."""
    name = f"{resource}:{access}"
    if name not in SCOPES:
        raise ValueError(f"{name!r} is not a scope (resources: {sorted(RESOURCES)})")
    return name


def allows(granted: frozenset[str], needed: str) -> bool:
    """Whether a key holding ``granted`` (scopes and presets) may do what ``needed`` guards."""
    return (
        needed in granted
        or FULL in granted
        or (READ_ONLY in granted and needed.endswith(":" + READ))
        or (SEND_ONLY in granted and needed in SENDING)
    )


def resolve(requested: Iterable[str]) -> frozenset[str]:
    """What a key is issued with: scopes and presets, checked (an unknown name is a 422)."""
    names = frozenset(requested)
    unknown = sorted(names - SCOPES - PRESETS)
    if unknown:
        known = ", ".join(sorted(PRESETS | SCOPES))
        raise InvalidArgument.for_field("scopes", f"unknown scope {unknown[0]!r}; known: {known}")
    if not names:
        raise InvalidArgument.for_field("scopes", "must name at least one scope")
    return names
