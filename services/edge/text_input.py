"""Every string a request carries is one the services behind the edge can store.

A NUL or a lone surrogate (``libs.text``) in a JSON field, a query
parameter or a path segment is a 422 naming where it was, before any
handler forwards it. The services check their own fields too; this is the
net under every route, including ones added later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiohttp import web

from libs.errors import FieldViolation, InvalidArgument
from libs.text import text_problem


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(where, string) for every string in a parsed JSON value, keys included."""
    stack = [(value, path)]
    while stack:
        node, at = stack.pop()
        if isinstance(node, str):
            yield at, node
        elif isinstance(node, dict):
            for k, v in node.items():
                where = f"{at}.{k}" if at else k
                yield where, k
                stack.append((v, where))
        elif isinstance(node, list):
            stack.extend((v, f"{at}[{i}]") for i, v in enumerate(node))


def violations(data: Any) -> list[FieldViolation]:
    """A violation for each string of ``data`` that cannot be stored, named by its path."""
    return [
        FieldViolation(where, problem)
        for where, text in _strings(data, "")
        if (problem := text_problem(text)) is not None
    ]


def raise_for(found: list[FieldViolation]) -> None:
    if found:
        found.sort(key=lambda v: v.field)
        raise InvalidArgument("; ".join(f"{v.field}: {v.description}" for v in found), tuple(found))


@web.middleware
async def text_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    found = [
        FieldViolation(name, problem)
        for name, value in (*request.query.items(), *request.match_info.items())
        if (problem := text_problem(name) or text_problem(value)) is not None
    ]
    raise_for(found)
    return await handler(request)
