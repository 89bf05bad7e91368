"""Rate limits: GCRA buckets shared in Redis, with a per-process fallback.

``FallbackLimiter(RedisLimiter(redis, prefix), name=...)`` is what a service
uses: ``check`` admits or denies a request against several buckets at once
(a tenant's and a key's, in one round trip); ``reserve`` books units and says
how long to wait (pacing that queues, never refuses).
"""

from libs.ratelimit.fallback import DECISIONS, FALLBACK_ACTIVE, FallbackLimiter
from libs.ratelimit.gcra import LocalLimiter
from libs.ratelimit.model import Bucket, BucketState, Decision, Limiter, Rate, Reservation
from libs.ratelimit.pacer import Pacer
from libs.ratelimit.redis_limiter import RedisLimiter

__all__ = [
    "DECISIONS",
    "FALLBACK_ACTIVE",
    "Bucket",
    "BucketState",
    "Decision",
    "FallbackLimiter",
    "Limiter",
    "LocalLimiter",
    "Pacer",
    "Rate",
    "RedisLimiter",
    "Reservation",
]
