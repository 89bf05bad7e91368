"""``omnigate-devsmsc``: run the development SMSC until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from datetime import UTC, datetime

import orjson
import uvloop

from libs.config import ConfigError, load
from services.devsmsc.config import DevSmscConfig
from services.devsmsc.server import start_smsc

log = logging.getLogger("omnigate.devsmsc")


class _JsonFormatter(logging.Formatter):
    """One JSON object per line, so log shippers need no parsing rules."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


async def _serve(config: DevSmscConfig) -> None:
    smsc = await start_smsc(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        log.info("stopping dev SMSC: %s", smsc.stats())
    finally:
        await smsc.close()


def main() -> None:
    _setup_logging()
    try:
        config = load(DevSmscConfig, "OMNIGATE_DEVSMSC_")
    except ConfigError as exc:
        log.error("bad configuration: %s", exc)
        raise SystemExit(2) from exc
    uvloop.run(_serve(config))


if __name__ == "__main__":
    main()
