"""Cursor pagination of the edge's own lists (tenants, webhook endpoints, deliveries).

Page tokens are those of ``libs.cursors``: the last item's id, opaque to clients.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from libs.cursors import decode_cursor, encode_cursor
from libs.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def page_args(request: web.Request, prefix: str) -> tuple[int, str | None]:
    """(page size, the id the page starts after, or None) from the query string."""
    unknown = set(request.query) - {"page_size", "page_token"}
    if unknown:
        raise InvalidArgument.for_field(sorted(unknown)[0], "is not a known query parameter")
    raw = request.query.get("page_size", str(DEFAULT_PAGE_SIZE))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise InvalidArgument.for_field(
            "page_size", f"must be a whole number from 1 to {MAX_PAGE_SIZE}"
        )
    token = request.query.get("page_token")
    return int(raw), decode_cursor(token, prefix) if token else None


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
