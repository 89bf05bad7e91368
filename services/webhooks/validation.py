"""What a tenant may set on an endpoint, checked: every problem named by its field.

URLs must be http(s) and resolve only to public addresses (the SSRF guard,
``ssrf.check_url``), checked when saved and again at every send. Event
types are those of the catalogue (``libs.events.catalog``) or wildcards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from libs.api.webhooks.v1 import webhooks_pb2 as pb
from libs.errors import FieldViolation, InvalidArgument
from libs.events import catalog
from libs.text import text_problem, url_problem
from services.webhooks.endpoints import invalid_event_types
from services.webhooks.ssrf import Network, UnsafeUrl, check_url

MAX_ENDPOINTS = 100
MAX_URL = 2048
MAX_DESCRIPTION = 500
DEFAULT_GRACE_S = 86400.0
MAX_GRACE_S = 7 * 86400.0

FIELDS = frozenset({"url", "event_types", "description", "disabled"})


async def endpoint_changes(
    fields: Sequence[str], given: pb.EndpointFields, allowed: tuple[Network, ...]
) -> dict[str, Any]:
    """The values ``given`` for ``fields`` (of ``FIELDS``), checked and normalised;
    InvalidArgument naming every field that is wrong."""
    url, event_types, description = given.url, given.event_types, given.description
    problems: list[FieldViolation] = []
    out: dict[str, Any] = {}
    unknown = sorted(set(fields) - FIELDS)
    if unknown:
        problems.append(FieldViolation(unknown[0], "is not a field of an endpoint"))
    if "url" in fields:
        url = url.strip()
        if problem := url_problem(url, MAX_URL):
            problems.append(FieldViolation("url", problem))
        else:
            try:
                await check_url(url, allowed)
                out["url"] = url
            except UnsafeUrl as exc:
                problems.append(FieldViolation("url", str(exc)))
    if "event_types" in fields:
        types = list(dict.fromkeys(event_types))
        bad = invalid_event_types(types)
        if not types:
            problems.append(FieldViolation("event_types", "must name at least one event type"))
        elif bad:
            known = ", ".join(sorted(catalog.event_types()))
            wildcards = ", ".join(f"'{w}'" for w in sorted(catalog.wildcards()))
            problems.append(
                FieldViolation(
                    "event_types", f"unknown event types {bad}; use {wildcards} or any of {known}"
                )
            )
        out["event_types"] = types
    if "description" in fields:
        if len(description) > MAX_DESCRIPTION:
            problems.append(
                FieldViolation("description", f"must be at most {MAX_DESCRIPTION} characters")
            )
        elif problem := text_problem(description):
            problems.append(FieldViolation("description", problem))
        out["description"] = description
    if "disabled" in fields:
        out["disabled"] = given.disabled
    if problems:
        raise InvalidArgument(
            "; ".join(f"{p.field}: {p.description}" for p in problems), tuple(problems)
        )
    return out


def grace_s(requested: float | None) -> float:
    """How long a rotated-out secret keeps signing."""
    grace = DEFAULT_GRACE_S if requested is None else requested
    if not 0 <= grace <= MAX_GRACE_S:
        raise InvalidArgument.for_field(
            "grace_period_s", f"must be from 0 to {MAX_GRACE_S:.0f} seconds"
        )
    return grace
