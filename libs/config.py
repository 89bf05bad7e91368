"""Settings from environment variables, loaded once into frozen dataclasses.

Each concern (database, bus, gRPC server, SMPP bind, ...) is one frozen
dataclass that validates itself in ``__post_init__``. ``load`` fills one from
the environment: a field ``dsn`` of a dataclass loaded with prefix
``OMNIGATE_DB_`` reads ``OMNIGATE_DB_DSN``. A missing required variable or a
value that does not parse raises ``ConfigError`` naming the variable; nothing
falls back silently. This is the only module that reads ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _parse(name: str, raw: str, kind: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if raw == "":
            return None
        return _parse(name, raw, args[0])
    if origin in (tuple, list, frozenset):
        (item,) = typing.get_args(kind)[:1]
        items = [p.strip() for p in raw.split(",") if p.strip()]
        return origin(_parse(name, p, item) for p in items)
    try:
        if kind is bool:
            low = raw.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError(f"expected one of {sorted(_TRUE | _FALSE)}")
        if kind in (int, float, str):
            return kind(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r}: {exc}") from exc
    raise ConfigError(f"{name}: unsupported setting type {kind!r}")


def load(
    cls: type[T],
    prefix: str,
    environ: Mapping[str, str] | None = None,
    *,
    defaults: Mapping[str, object] | None = None,
) -> T:
    """Build ``cls`` (a dataclass) from ``environ`` variables named ``prefix + FIELD``.

    ``defaults`` (field name -> value) replaces the class's defaults for this
    one use, where one class serves several purposes in a process tree: a
    health-only gRPC server must not default to the API server's port.
    """
    env = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    overrides = dict(defaults or {})
    unknown = overrides.keys() - {f.name for f in fields}
    if unknown:
        raise TypeError(f"defaults for {sorted(unknown)}, which {cls.__name__} does not have")
    values: dict[str, Any] = {}
    for f in fields:
        var = f"{prefix}{f.name.upper()}"
        if var in env:
            values[f.name] = _parse(var, env[var], hints[f.name])
        elif f.name in overrides:
            values[f.name] = overrides[f.name]
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{var} is required")
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        # A check in __post_init__ names its fields: name the variables they come from.
        named = [f"{prefix}{f.name.upper()}" for f in fields if f.name in str(exc)]
        raise ConfigError(f"{', '.join(named) or prefix + '*'}: {exc}") from exc
