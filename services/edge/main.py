"""``omnigate-edge``: serve the public HTTP API until SIGTERM."""

from __future__ import annotations

from libs import runtime
from services.edge.app import create_app
from services.edge.config import EdgeSettings


async def parts(rt: runtime.Runtime, settings: EdgeSettings) -> None:
    # The app's own cleanup contexts hold its pool and channels (aiohttp's idiom).
    await rt.http(
        create_app(settings),
        settings.http.host,
        settings.http.port,
        shutdown_grace_s=settings.http.shutdown_grace_s,
    )


SERVICE = runtime.Service("edge", EdgeSettings.from_env, parts)
main = SERVICE.main

if __name__ == "__main__":
    main()
