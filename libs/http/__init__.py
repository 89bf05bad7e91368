"""HTTP for hot paths: a lean keep-alive client (see client.py for why not aiohttp's)."""

from libs.http.client import (
    ConnectError,
    HttpClient,
    HttpError,
    InvalidResponse,
    Resolver,
    Response,
    ServerDisconnected,
    getaddrinfo,
)

__all__ = [
    "ConnectError",
    "HttpClient",
    "HttpError",
    "InvalidResponse",
    "Resolver",
    "Response",
    "ServerDisconnected",
    "getaddrinfo",
]
