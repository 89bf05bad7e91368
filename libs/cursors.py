"""Opaque page tokens for cursor pagination, shared by every service's lists.

A token is the last listed item's id, base64url-encoded so clients treat it
as opaque. IDs sort by creation time, so "after (or before) this id" is a
stable cursor however many items are added meanwhile.
"""

from __future__ import annotations

import base64

from libs.errors import InvalidArgument
from libs.ids import is_id


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(token: str, prefix: str) -> str:
    """The id in ``token``, which must be an id with ``prefix``; else InvalidArgument."""
    try:
        value = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument.for_field("page_token", "is not a valid cursor") from exc
    if not is_id(value, prefix):
        raise InvalidArgument.for_field("page_token", "is not a valid cursor")
    return value
