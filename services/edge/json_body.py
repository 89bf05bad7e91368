"""Strict JSON request bodies: the right content type, an object, only known fields."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from libs.errors import FieldViolation, InvalidArgument
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


async def read_object(
    request: web.Request,
    required: frozenset[str],
    optional: frozenset[str],
    *,
    strings: bool = True,
) -> dict[str, Any]:
    """The body as a dict with only known fields (all strings unless ``strings`` is off),
    or a clear error naming what is wrong."""
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
    problems = [
        FieldViolation(k, "is not a known field") for k in data if k not in required | optional
    ]
    problems += [FieldViolation(k, "is required") for k in sorted(required) if k not in data]
    if strings:
        problems += [
            FieldViolation(k, "must be a string")
            for k, v in data.items()
            if k in required | optional and not isinstance(v, str)
        ]
    if problems:
        raise InvalidArgument(
            "; ".join(f"{p.field}: {p.description}" for p in problems), tuple(problems)
        )
    return data
