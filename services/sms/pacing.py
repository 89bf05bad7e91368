"""Per-sender pacing of the worker's submits, shared by every worker through Redis."""

from __future__ import annotations

import logging

from redis.asyncio import Redis

from libs.ratelimit import FallbackLimiter, Pacer, Rate, RedisLimiter
from libs.runtime import Runtime
from services.sms.config import WorkerSettings

log = logging.getLogger("omnigate.sms.worker")


async def sender_pacer(rt: Runtime, settings: WorkerSettings) -> Pacer | None:
    """The pacer of sender numbers, or None when no sender rate is set (no Redis call then)."""
    if settings.worker.sender_rate_per_s <= 0:
        return None
    pacing = settings.pacing
    redis = Redis.from_url(pacing.redis_url, socket_connect_timeout=pacing.redis_timeout_s)
    rt.defer(redis.aclose)
    limiter = FallbackLimiter(
        RedisLimiter(redis, pacing.key_prefix),
        name="sms-sender",
        timeout_s=pacing.redis_timeout_s,
        retry_every_s=pacing.redis_retry_every_s,
    )
    rate = Rate(settings.worker.sender_rate_per_s, settings.worker.sender_burst)
    log.info("pacing each sender to %g messages/s", rate.per_s)
    return Pacer(limiter, rate, "sms:sender")
