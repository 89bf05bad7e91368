"""``omnigate-edge``: serve the public HTTP API until SIGTERM."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from libs import lifecycle
from libs.metrics import MetricsConfig, serve_metrics
from services.edge.app import create_app
from services.edge.config import EdgeSettings

log = logging.getLogger("omnigate.edge")


async def serve(settings: EdgeSettings, stop: asyncio.Event) -> None:
    runner = web.AppRunner(
        create_app(settings), access_log=None, shutdown_timeout=settings.http.shutdown_grace_s
    )
    await runner.setup()
    # Metrics first: whatever sees the process ready may scrape it at once.
    serve_metrics(MetricsConfig.from_env())
    site = web.TCPSite(runner, settings.http.host, settings.http.port, backlog=1024)
    await site.start()
    log.info("edge listening on http://%s:%d", settings.http.host, settings.http.port)
    await stop.wait()
    log.info("draining")
    await runner.cleanup()


def main() -> None:
    settings = EdgeSettings.from_env()
    lifecycle.run_service(
        "edge", settings.log_level, settings.telemetry, lambda stop: serve(settings, stop)
    )


if __name__ == "__main__":
    main()
