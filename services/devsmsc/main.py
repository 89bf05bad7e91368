"""``omnigate-devsmsc``: run the development SMSC until SIGTERM/SIGINT."""

from __future__ import annotations

import logging

from libs import config, runtime
from services.devsmsc.config import DevSmscConfig
from services.devsmsc.server import start_smsc

log = logging.getLogger("omnigate.devsmsc")


def settings() -> DevSmscConfig:
    return config.load(DevSmscConfig, "OMNIGATE_DEVSMSC_")


async def parts(rt: runtime.Runtime, settings: DevSmscConfig) -> None:
    smsc = await start_smsc(settings)
    rt.defer(smsc.close)

    async def report() -> None:
        log.info("stopping dev SMSC: %s", smsc.stats())

    rt.defer(report)


SERVICE = runtime.Service("devsmsc", settings, parts)
main = SERVICE.main

if __name__ == "__main__":
    main()
