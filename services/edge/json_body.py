"""Strict JSON request bodies: the right content type, an object, only known fields."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson
from aiohttp import web

from libs.errors import FieldViolation, InvalidArgument
from services.edge import text_input
from services.edge.problems import BadRequest

# No request of ours needs more; deep nesting only costs parse time and memory.
MAX_DEPTH = 16


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        if isinstance(node, dict):
            stack.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, level + 1) for v in node)
    return deepest


# A field's JSON type check, and how to say what it must be.
TypeCheck = tuple[Callable[[Any], bool], str]
STRING: TypeCheck = (lambda v: isinstance(v, str), "must be a string")


async def read_object(
    request: web.Request,
    required: frozenset[str],
    optional: frozenset[str],
    *,
    strings: bool = True,
    types: Mapping[str, TypeCheck] | None = None,
    allow_empty: bool = False,
) -> dict[str, Any]:
    """The body as a dict with only known fields, or a clear error naming what is wrong.

    Fields are checked with ``types`` when given, else must all be strings
    (unless ``strings`` is off and the caller checks them). ``allow_empty``:
    a request without a body reads as ``{}`` (for POSTs with only optional fields).
    """
    if allow_empty and not required and not request.body_exists:
        return {}
    if request.content_type != "application/json":
        raise BadRequest(
            f"Content-Type must be application/json, got {request.content_type or 'none'}", 415
        )
    raw = await request.read()
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    if _depth(data) > MAX_DEPTH:
        raise BadRequest(f"the body nests deeper than {MAX_DEPTH} levels")
    # Before anything else: a field name holding a NUL is named in the errors
    # below, and that message must be one the caller can read back.
    text_input.raise_for(text_input.violations(data))
    problems = [
        FieldViolation(k, "is not a known field") for k in data if k not in required | optional
    ]
    problems += [FieldViolation(k, "is required") for k in sorted(required) if k not in data]
    checks = types if types is not None else ({} if not strings else None)
    for k, v in data.items():
        if k not in required | optional:
            continue
        check, say = STRING if checks is None else checks.get(k, (lambda _: True, ""))
        if not check(v):
            problems.append(FieldViolation(k, say))
    if problems:
        raise InvalidArgument(
            "; ".join(f"{p.field}: {p.description}" for p in problems), tuple(problems)
        )
    return data
