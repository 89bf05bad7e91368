"""/v1/webhook_endpoints: tenants' webhook endpoints, their secrets and delivery attempts.

Placeholder: being built.
"""

from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application) -> None:
    """Register the webhook endpoint routes on ``app``."""
