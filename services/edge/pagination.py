"""Cursor pagination of the edge's own lists (tenants, webhook endpoints, deliveries).

A page token is the last item's id, base64url-encoded so clients treat it as
opaque; IDs sort by creation time, so "after this id" is a stable cursor
however many items are added meanwhile.
"""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from libs.errors import InvalidArgument
from libs.ids import is_id

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
    if not token:
        return int(raw), None
    try:
        last = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument.for_field("page_token", "is not a valid cursor") from exc
    if not is_id(last, prefix):
        raise InvalidArgument.for_field("page_token", "is not a valid cursor")
    return int(raw), last


def list_body(
    request: web.Request, items: list[Any], size: int, last_id: str | None
) -> dict[str, Any]:
    """A list body; ``last_id`` is the id of this page's last item when more follow."""
    token = (
        base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")
        if last_id is not None
        else None
    )
    return {
        "object": "list",
        "data": items,
        "next_page_token": token,
        "next_page_url": f"{request.path}?page_size={size}&page_token={token}" if token else None,
    }
