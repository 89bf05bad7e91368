"""Cursor pagination and rendered resources: the edge's own lists (tenants), and those a
service renders (``Rendered``/``RenderedPage`` of its gRPC API), in one list shape.

Page tokens are those of ``libs.cursors``: the last item's id, opaque to clients.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson
from aiohttp import web

from libs.cursors import decode_cursor, encode_cursor
from libs.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


class Rendered(Protocol):
    """A resource as a service renders it (its gRPC API's ``Rendered``, an sms ``Message``)."""

    @property
    def public_json(self) -> bytes: ...


class RenderedPage(Protocol):
    @property
    def items(self) -> Any: ...

    @property
    def next_page_token(self) -> str: ...


def rendered(resource: Rendered, status: int = 200) -> web.Response:
    """A service's rendering of its resource, answered as it is."""
    return web.Response(body=resource.public_json, status=status, content_type="application/json")


def rendered_list(
    request: web.Request, items: Any, size: int, token: str, filters: str = ""
) -> web.Response:
    """A list body around rendered items (``token``: the next page's, empty on the last;
    ``filters``: the query's filters, ``&name=value``, kept in the next page's URL)."""
    next_url = f"{request.path}?page_size={size}&page_token={token}{filters}"
    body = {
        "object": "list",
        "data": [orjson.Fragment(i.public_json) for i in items],
        "next_page_token": token or None,
        "next_page_url": next_url if token else None,
    }
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def rendered_page(request: web.Request, page: RenderedPage, size: int) -> web.Response:
    return rendered_list(request, page.items, size, page.next_page_token)


def page_query(request: web.Request, also: tuple[str, ...] = ()) -> tuple[int, str]:
    """(page size, page token or "") from the query string, where only ``also`` may
    appear besides them; the service decodes the token."""
    unknown = set(request.query) - {"page_size", "page_token", *also}
    if unknown:
        raise InvalidArgument.for_field(sorted(unknown)[0], "is not a known query parameter")
    raw = request.query.get("page_size", str(DEFAULT_PAGE_SIZE))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise InvalidArgument.for_field(
            "page_size", f"must be a whole number from 1 to {MAX_PAGE_SIZE}"
        )
    return int(raw), request.query.get("page_token", "")


def page_args(request: web.Request, prefix: str) -> tuple[int, str | None]:
    """(page size, the id the page starts after, or None) from the query string."""
    size, token = page_query(request)
    return size, decode_cursor(token, prefix) if token else None


def list_body(
    request: web.Request, items: list[Any], size: int, last_id: str | None
) -> dict[str, Any]:
    """A list body; ``last_id`` is the id of this page's last item when more follow."""
    token = encode_cursor(last_id) if last_id is not None else None
    return {
        "object": "list",
        "data": items,
        "next_page_token": token,
        "next_page_url": f"{request.path}?page_size={size}&page_token={token}" if token else None,
    }
