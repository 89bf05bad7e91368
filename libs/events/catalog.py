"""The catalogue of event types every service publishes, read from the contracts in proto/.

Each service names its types on the values of an enum in its events.proto,
with the ``(omnigate.events.v1.event_type)`` option. ``event_types()``
imports every generated module under ``libs.api`` once and collects them,
so a new service's events are known here (to webhook endpoints, to the
API's documentation) without a line of code outside its own proto.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

import libs.api
from libs.api.events.v1 import events_pb2

ANY = "*"


@functools.cache
def event_types() -> frozenset[str]:
    """Every ``<resource>.<event>`` type some service declares that it publishes."""
    found: set[str] = set()
    for module in pkgutil.walk_packages(libs.api.__path__, "libs.api."):
        if not module.name.endswith("_pb2"):
            continue
        descriptor = importlib.import_module(module.name).DESCRIPTOR
        for enum in descriptor.enum_types_by_name.values():
            for value in enum.values:
                name = value.GetOptions().Extensions[events_pb2.event_type]
                if name:
                    found.add(name)
    return frozenset(found)


@functools.cache
def wildcards() -> frozenset[str]:
    """``*`` (everything) and ``<resource>.*`` for each resource that has events."""
    return frozenset({ANY} | {t.split(".", 1)[0] + ".*" for t in event_types()})


def matches(patterns: tuple[str, ...] | list[str], type_: str) -> bool:
    """Whether a subscription to ``patterns`` (types or wildcards) covers ``type_``."""
    for pattern in patterns:
        if pattern in (ANY, type_):
            return True
        if pattern.endswith(".*") and type_.startswith(pattern[:-1]):
            return True
    return False
