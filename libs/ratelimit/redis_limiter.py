"""GCRA buckets in Redis, shared by every process: one script call decides a request.

The script runs atomically in Redis on Redis's own clock (``TIME``), so
replicas with skewed clocks still share one timeline. It is loaded once
(``SCRIPT LOAD``) and called by hash (``EVALSHA``); after a Redis restart or
``SCRIPT FLUSH`` the ``NOSCRIPT`` answer makes it load again. A bucket's key
expires once the bucket is full again, so idle subjects cost no memory.

Calls made together are sent together: one pipeline (one connection, one
round trip) carries the script calls of every request that arrived while
the previous pipeline was out. Without this, a burst of requests took a
Redis connection each: thousands at once, until the client refused ("Too
many connections") and every edge fell back to limiting alone. Identical
calls in one pipeline (a hot tenant's burst) are one script run that
decides them one after another, as separate runs would have: a check costs
12 instead of 22 us of the edge's CPU with 16 in flight, and Redis one run.

The keys of one call must live on one node (hash tags) if Redis is a cluster.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from libs.batching import MicroBatcher
from libs.ratelimit.model import Bucket, BucketState, Decision, Reservation

# KEYS: the buckets. ARGV[1]: "check" (all buckets or none) or "reserve" (each
# bucket books its cost, never refuses); ARGV[2]: how many identical calls to
# decide, one after another; then per bucket: emission interval (µs),
# tolerance = burst * interval (µs), cost. Times are µs as doubles, exact to
# well below a µs at today's epoch. The answers of the calls follow each other.
SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = #KEYS
local calls = tonumber(ARGV[2])
local function store(key, tat)
  redis.call('SET', key, string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
end
-- Bucket i's interval, tolerance and cost, and its theoretical arrival time (never past).
local function bucket(i)
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  return tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1]), tonumber(ARGV[3 * i + 2]), tat
end
local out = {}
if ARGV[1] == 'reserve' then
  for c = 0, calls - 1 do
    for i = 1, n do
      local interval, tol, cost, tat = bucket(i)
      store(KEYS[i], tat + cost * interval)
      out[c * n + i] = math.floor(tat + interval - tol - now)
    end
  end
  return out
end
for c = 0, calls - 1 do
  local o = c * (3 * n + 1)
  local tats = {}
  local allowed = true
  out[o + 1] = 1
  for i = 1, n do
    local interval, tol, cost, tat = bucket(i)
    local new_tat = tat + cost * interval
    local allow_at = new_tat - tol
    tats[i] = {tat, new_tat, interval, tol}
    if now + 0.001 >= allow_at then
      out[o + 3 * i - 1] = math.floor((now - allow_at) / interval + 1e-9)
      out[o + 3 * i] = math.floor(new_tat - now)
      out[o + 3 * i + 1] = 0
    else
      allowed = false
      out[o + 3 * i - 1] = math.max(0, math.floor((tol - (tat - now)) / interval + 1e-9))
      out[o + 3 * i] = math.floor(tat - now)
      out[o + 3 * i + 1] = math.ceil(allow_at - now)
    end
  end
  if allowed then
    for i = 1, n do store(KEYS[i], tats[i][2]) end
  else
    out[o + 1] = 0
    for i = 1, n do
      if out[o + 3 * i + 1] == 0 then
        -- Nothing was taken: a bucket that would have allowed still holds its units.
        local tat, interval, tol = tats[i][1], tats[i][3], tats[i][4]
        out[o + 3 * i - 1] = math.floor((tol - (tat - now)) / interval + 1e-9)
        out[o + 3 * i] = math.floor(tat - now)
      end
    end
  end
end
return out
"""

_US = 1_000_000.0


_Call = tuple[tuple[str, ...], tuple[str | float | int, ...]]  # keys, arguments


class RedisLimiter:
    """Buckets named ``{prefix}:ratelimit:{bucket.key}`` in Redis; calls pipelined together."""

    backend = "redis"

    def __init__(self, redis: Redis, prefix: str, *, call_timeout_s: float = 1.0) -> None:
        self._redis = redis
        # Bounds each round of calls: the callers' own timeouts (FallbackLimiter)
        # give up waiting, but only this frees the flush slot a hung Redis holds.
        self._call_timeout_s = call_timeout_s
        self._prefix = f"{prefix}:ratelimit:"
        self._sha: str | None = None
        # No added delay: what arrives while the pipeline is out goes in the next
        # one. One at a time: each execute costs redis-py ~0.1 ms of CPU whatever
        # it carries, so two small pipelines cost twice one larger one.
        self._calls: MicroBatcher[_Call, list[int]] = MicroBatcher(
            self._send, max_size=500, max_delay_s=0, max_concurrency=1
        )

    async def check(self, buckets: Sequence[Bucket], cost: int = 1) -> Decision:
        raw = await self._run("check", [(b, cost) for b in buckets])
        states = tuple(
            BucketState(
                b,
                int(raw[3 * i + 1]),
                int(raw[3 * i + 2]) / _US,
                int(raw[3 * i + 3]) / _US,
            )
            for i, b in enumerate(buckets)
        )
        return Decision(bool(raw[0]), states, self.backend)

    async def reserve(self, requests: Sequence[tuple[Bucket, int]]) -> list[Reservation]:
        raw = await self._run("reserve", requests)
        return [
            Reservation(int(first) / _US, bucket.rate.interval_s, cost)
            for (bucket, cost), first in zip(requests, raw, strict=True)
        ]

    async def _run(self, mode: str, requests: Sequence[tuple[Bucket, int]]) -> list[int]:
        keys = tuple(self._prefix + b.key for b, _ in requests)
        args: list[str | float | int] = [mode]
        for bucket, cost in requests:
            interval = bucket.rate.interval_s * _US
            args += [interval, interval * bucket.rate.burst, cost]
        return await self._calls.submit((keys, tuple(args)))

    async def _send(self, calls: Sequence[_Call]) -> list[list[int]]:
        # Identical calls (many requests on one hot bucket) go as one script call
        # that decides them one after another, each as it would have been alone:
        # Redis runs and answers one call, and we pack and parse one.
        alike: dict[_Call, list[int]] = {}
        for i, call in enumerate(calls):
            alike.setdefault(call, []).append(i)
        async with asyncio.timeout(self._call_timeout_s):
            if self._sha is None:
                self._sha = await self._redis.script_load(SCRIPT)
            results = await self._pipeline(self._sha, alike)
            if any(isinstance(r, NoScriptError) for r in results):
                # Redis restarted or its scripts were flushed: load it and run them again.
                self._sha = await self._redis.script_load(SCRIPT)
                results = await self._pipeline(self._sha, alike)
        answers: list[list[int]] = [[] for _ in calls]
        for places, result in zip(alike.values(), results, strict=True):
            if isinstance(result, Exception):
                raise result
            size = len(result) // len(places)
            for n, i in enumerate(places):
                answers[i] = result[n * size : (n + 1) * size]
        return answers

    async def _pipeline(self, sha: str, alike: dict[_Call, list[int]]) -> list[Any]:
        pipe = self._redis.pipeline(transaction=False)
        for (keys, (mode, *args)), places in alike.items():
            pipe.evalsha(sha, len(keys), *keys, mode, len(places), *args)
        results: list[Any] = await pipe.execute(raise_on_error=False)
        return results
