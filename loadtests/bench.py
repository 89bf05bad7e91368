"""``make bench``: drive messages through a fresh platform and print one JSON line.

The platform runs as ``make run`` runs it (every service its own process), on
a unique database and bus prefix, with the dev SMSC answering receipts after
``--receipt-delay`` seconds. A webhook receiver in this process verifies every
Standard Webhooks signature. The load is a closed loop (``--messages`` with
``--concurrency`` senders) or an open loop (``--rate`` per second for
``--duration`` seconds).

Figures: offered, accepted, accepted_per_s, e2e_per_s (final receipt webhook
received), accept/e2e latency percentiles, lost (accepted but no final
webhook), duplicate_submits (counted at the SMSC), bad_signatures,
duplicate_webhooks (a webhook-id received again), the peak RSS of every
process and its growth after warm-up (the first 10 % of the load), and CPU
time per message of every process, PostgreSQL, RabbitMQ and Redis included,
database statements and publishes per message (also by process), and rows
read by sequential scans per message.
``--kill-worker-after S`` SIGKILLs the sms worker S seconds into the load
and starts it again (the crash drill); ``--kill-webhooks-after S`` does the
same to the webhooks service.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from dataclasses import dataclass, field

import aiohttp
import asyncpg
import orjson
import uvloop

from deploy.local.platform import ROOT, Platform, PlatformConfig
from libs.http import HttpClient, HttpError
from loadtests.proc import (
    calibration_ms,
    cpu_seconds,
    peak_rss_mb,
    reading,
    rss_mb,
    wakeups,
)
from loadtests.receiver import BenchReceiver
from tests.helpers.webhooks import Received

# aiohttp's default: an accept slower than this is an error, not a latency.
REQUEST_TIMEOUT_S = 300.0

FINAL = {
    "message.delivered",
    "message.undelivered",
    "message.failed",
    "message.partially_delivered",
}


@dataclass
class Run:
    sent_at: dict[str, float] = field(default_factory=dict)
    accept_ms: list[float] = field(default_factory=list)
    final_at: dict[str, float] = field(default_factory=dict)
    offered: int = 0
    rejected: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # no HTTP answer, by exception
    # Messages accepted when a process was SIGKILLed, by process (the crash drills).
    killed_at: dict[str, int] = field(default_factory=dict)
    webhook_ids: set[str] = field(default_factory=set)
    duplicate_webhooks: int = 0  # the same webhook-id received again

    def record_webhook(self, hook: Received) -> None:
        webhook_id = hook.headers.get("webhook-id", "")
        if webhook_id in self.webhook_ids:
            self.duplicate_webhooks += 1
        self.webhook_ids.add(webhook_id)
        if hook.payload["type"] in FINAL:
            self.final_at.setdefault(hook.payload["data"]["id"], hook.at)


async def rows_scanned(dsn: str) -> int:
    """Rows PostgreSQL has read by sequential scans of the database's tables so far."""
    conn = await asyncpg.connect(dsn)
    try:
        sql = "SELECT coalesce(sum(seq_tup_read), 0) FROM pg_stat_user_tables"
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 1)


@dataclass
class MemoryWatch:
    """Each process's RSS once the load is warm (a tenth of it accepted) and at the end."""

    run: Run
    expected: int
    warm: dict[str, float] = field(default_factory=dict)

    async def watch(self, platform: Platform) -> None:
        while not self.warm:
            if len(self.run.sent_at) >= self.expected / 10:
                self.warm = {n: rss_mb(pid) for n, pid in platform.pids().items()}
            await asyncio.sleep(0.5)

    def growth_pct(self, platform: Platform) -> dict[str, float]:
        return {
            n: round((rss_mb(pid) - self.warm[n]) / self.warm[n] * 100, 1)
            for n, pid in platform.pids().items()
            if self.warm.get(n)
        }


# The crash drills: option -> (the process it kills, the figure saying when).
DRILLS = {
    "kill_worker_after": ("sms-worker-0", "worker_killed_at_accepted"),
    "kill_webhooks_after": ("webhooks", "webhooks_killed_at_accepted"),
}


async def _kill_after(platform: Platform, name: str, seconds: float, run: Run) -> None:
    await asyncio.sleep(seconds)
    run.killed_at[name] = len(run.sent_at)
    await platform.restart(name)  # SIGKILL, then start it again


# The bench tenant's own number, assigned as an operator would.
SENDER = "+447700900100"


async def _send(
    client: HttpClient, url: str, run: Run, callback: str, headers: dict[str, str]
) -> None:
    run.offered += 1
    body = {
        "to": "+447700900000",
        "from": SENDER,
        # Unique bodies let the SMSC tell a duplicate submit from a new message.
        "body": f"bench {secrets.token_hex(6)}",
        "status_callback": callback,
    }
    start = time.monotonic()
    try:
        r = await client.post(url, orjson.dumps(body), headers, timeout_s=REQUEST_TIMEOUT_S)
    except (HttpError, OSError, TimeoutError) as exc:
        run.errors[type(exc).__name__] = run.errors.get(type(exc).__name__, 0) + 1
        return
    done = time.monotonic()
    if r.status != 201:
        run.rejected += 1
        return
    run.accept_ms.append((done - start) * 1000)
    run.sent_at[orjson.loads(r.body)["id"]] = start


async def closed_loop(
    client: HttpClient,
    url: str,
    run: Run,
    n: int,
    concurrency: int,
    callback: str,
    headers: dict[str, str],
) -> None:
    remaining = n

    async def sender() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await _send(client, url, run, callback, headers)

    await asyncio.gather(*(sender() for _ in range(concurrency)))


async def open_loop(
    client: HttpClient,
    url: str,
    run: Run,
    rate: float,
    duration: float,
    callback: str,
    headers: dict[str, str],
) -> None:
    tasks: set[asyncio.Task[None]] = set()
    start = time.monotonic()
    i = 0
    while (elapsed := time.monotonic() - start) < duration:
        due = int(elapsed * rate) + 1
        while i < due:
            t = asyncio.create_task(_send(client, url, run, callback, headers))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
            i += 1
        await asyncio.sleep(0.001)
    await asyncio.gather(*tasks)


async def bench(args: argparse.Namespace) -> dict[str, object]:
    name = f"omnigate_bench_{secrets.token_hex(4)}"
    config = PlatformConfig.isolated(
        name,
        receipt_delay_s=args.receipt_delay,
        sms_workers=args.workers,
        edges=args.edges,
        log_dir=str(ROOT / ".bench" / name),
    )
    platform = Platform(config)
    run = Run()
    receiver = BenchReceiver(run.record_webhook)
    try:
        await platform.start()
        created = await platform.create_tenant("bench")
        await platform.assign_number(created["tenant_id"], SENDER)
        receiver.secret = created["webhook_secret"]
        callback = await receiver.start()
        headers = {
            "Authorization": f"Bearer {created['api_key']}",
            "Content-Type": "application/json",
        }
        # An open loop past what the platform takes would otherwise open a
        # connection per request in flight; beyond this many they queue here
        # (and their wait counts in the accept latency, from the intended send).
        # The lean client the webhook sender uses: the load generator shares the
        # two cores with the platform, and aiohttp's client costs 4x its CPU.
        client = HttpClient(limit=args.connections)
        urls = [f"{url}/v1/messages" for url in config.edge_urls]
        calibration = calibration_ms()
        pids = {**platform.pids(), "bench": os.getpid()}
        cpu_before, wakeups_before = reading(cpu_seconds, pids), reading(wakeups, pids)
        work_before = await platform.work_counts()
        scanned_before = await rows_scanned(config.dsn)
        memory = MemoryWatch(run, int(args.rate * args.duration) if args.rate else args.messages)
        background = [asyncio.create_task(memory.watch(platform))]
        for option, (name, _) in DRILLS.items():
            if getattr(args, option) is not None:
                drill = _kill_after(platform, name, getattr(args, option), run)
                background.append(asyncio.create_task(drill))
        t0 = time.monotonic()
        per = max(1, args.concurrency // len(urls))
        if args.rate:
            rate = args.rate / len(urls)
            await asyncio.gather(
                *(open_loop(client, u, run, rate, args.duration, callback, headers) for u in urls)
            )
        else:
            n = args.messages // len(urls)
            await asyncio.gather(
                *(closed_loop(client, u, run, n, per, callback, headers) for u in urls)
            )
        t_accepted = time.monotonic()
        deadline = t_accepted + args.drain_timeout
        while len(run.final_at) < len(run.sent_at) and time.monotonic() < deadline:  # noqa: ASYNC110 - polls a counter fed by the receiver
            await asyncio.sleep(0.1)
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        # A process restarted meanwhile (the crash drill) has no comparable figure.
        same = {n: pid for n, pid in pids.items() if platform.pids().get(n, pid) == pid}
        cpu_after, wakeups_after = reading(cpu_seconds, same), reading(wakeups, same)
        work_after = await platform.work_counts()
        scanned = await rows_scanned(config.dsn) - scanned_before
        await client.close()
        async with (
            aiohttp.ClientSession() as s,
            s.get(f"http://127.0.0.1:{config.smsc_control_port}/stats") as r,
        ):
            smsc = await r.json()
        finals = [run.final_at[m] for m in run.sent_at if m in run.final_at]
        e2e_ms = [
            (run.final_at[m] - run.sent_at[m]) * 1000 for m in run.sent_at if m in run.final_at
        ]
        first = min(run.sent_at.values(), default=t0)
        rss = {n: peak_rss_mb(pid) for n, pid in platform.pids().items()}
        accepted = max(1, len(run.sent_at))
        cpu_ms = {n: round((cpu_after[n] - cpu_before[n]) * 1000 / accepted, 2) for n in cpu_after}
        woken = {n: (wakeups_after[n] - wakeups_before[n]) / accepted for n in wakeups_after}
        # (statements, publishes) of each process during the load.
        work = {
            n: (after[0] - work_before[n][0], after[1] - work_before[n][1])
            for n, after in work_after.items()
            if n in same
        }
        statements = sum(w[0] for w in work.values())
        publishes = sum(w[1] for w in work.values())
        return {
            "mode": "open" if args.rate else "closed",
            "offered": run.offered,
            "accepted": len(run.sent_at),
            "accepted_per_s": round(len(run.sent_at) / max(t_accepted - t0, 1e-9), 1),
            "e2e_per_s": round(len(finals) / max(max(finals, default=first) - first, 1e-9), 1),
            "accept_p50_ms": percentile(run.accept_ms, 50),
            "accept_p99_ms": percentile(run.accept_ms, 99),
            "e2e_p50_ms": percentile(e2e_ms, 50),
            "e2e_p99_ms": percentile(e2e_ms, 99),
            "lost": len(run.sent_at) - len(finals),
            "rejected": run.rejected,
            "errors": run.errors,
            "duplicate_submits": smsc.get("duplicate_submits"),
            "bad_signatures": receiver.bad_signatures,
            "duplicate_webhooks": run.duplicate_webhooks,
            "peak_rss_mb": rss,
            "rss_growth_after_warmup_pct": memory.growth_pct(platform),
            # Per accepted message, whatever the machine's speed (see loadtests/proc.py).
            "cpu_ms_per_msg": cpu_ms | {"total": round(sum(cpu_ms.values()), 2)},
            # Wake-ups are what a replica adds on shared cores (loadtests/proc.py).
            "wakeups_per_msg": {n: round(w, 2) for n, w in woken.items()}
            | {"total": round(sum(woken.values()), 2)},
            "db_statements_per_msg": round(statements / accepted, 2),
            # Per process: what round trips a change saved, and where.
            "db_statements_per_msg_by_process": {
                n: round(w[0] / accepted, 3) for n, w in work.items()
            },
            # Rows read by sequential scans: a lookup by key that scans its table
            # shows here, growing with the table (libs/db/growth.py).
            "db_rows_scanned_per_msg": round(scanned / accepted, 1),
            "publishes_per_msg": round(publishes / accepted, 2),
            "publishes_per_msg_by_process": {n: round(w[1] / accepted, 3) for n, w in work.items()},
            "calibration_ms": calibration,
            **{figure: run.killed_at.get(name) for name, figure in DRILLS.values()},
        }
    finally:
        await receiver.stop()
        await platform.stop()
        await platform.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=float, default=0.0, help="open loop: messages per second")
    parser.add_argument("--duration", type=float, default=60.0, help="open loop: seconds")
    parser.add_argument("--receipt-delay", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--edges", type=int, default=1)
    parser.add_argument("--drain-timeout", type=float, default=120.0)
    parser.add_argument(
        "--connections", type=int, default=512, help="most HTTP connections to the edges"
    )
    for option, (name, _) in DRILLS.items():
        parser.add_argument(
            "--" + option.replace("_", "-"),
            type=float,
            default=None,
            help=f"SIGKILL {name} this many seconds into the load, then restart it",
        )
    args = parser.parse_args()
    # uvloop, like the services: the load generator shares the two cores with them.
    result = uvloop.run(bench(args))
    print(orjson.dumps(result).decode(), flush=True)
    for option, (name, figure) in DRILLS.items():
        if getattr(args, option) is not None and result[figure] is None:
            # A drill that did not happen must not read as one that lost nothing.
            flag = "--" + option.replace("_", "-")
            sys.exit(
                f"bench: the run was over before {flag} {getattr(args, option):g} s;"
                f" {name} was not killed (give a shorter delay)"
            )


if __name__ == "__main__":
    main()
