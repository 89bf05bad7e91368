"""Run the whole platform on this machine: one OS process per service, as deployed.

``make run`` uses it with the default names (database ``omnigate``, bus
prefix ``omnigate``); tests and ``make bench`` use it with unique names and
free ports, so they never meet a running ``make run``. Each process gets its
settings through environment variables only, exactly as on Kubernetes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
import asyncpg
import grpc
import orjson
from grpc_health.v1 import health_pb2, health_pb2_grpc

from deploy.local.child import Child

ROOT = Path(__file__).resolve().parents[2]


# Ports this process handed out. One is free only until its service binds it,
# and the kernel offers a port it just released again soon (2,000 calls here
# returned 134 repeats): two services of one platform once got the same one.
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port free on 127.0.0.1 now, and never handed out by this process before."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


SERVING = health_pb2.HealthCheckResponse.SERVING


async def grpc_health(port: int, service: str = "", timeout_s: float = 1.0) -> int:
    """The status a gRPC health server on 127.0.0.1:``port`` reports (``health_pb2``)."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        resp = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=timeout_s
        )
        return int(resp.status)


@dataclass
class PlatformConfig:
    database: str = "omnigate"
    pg_admin_dsn: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    # Where the services reach PostgreSQL (a fault test puts a proxy there).
    pg_port: int = 5432
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    bus_prefix: str = "omnigate"
    edge_port: int = 8080
    sms_grpc_port: int = 50051
    # gRPC health of the first sms worker (each further one gets a free port,
    # as each pod has its own address on Kubernetes), and the webhooks service's
    # gRPC API and health.
    sms_worker_health_port: int = 50052
    webhooks_grpc_port: int = 50053
    numbers_grpc_port: int = 50054
    smsc_port: int = 2775
    # Where the workers reach the SMSC, if not at smsc_port (a fault test's proxy).
    smpp_port: int = 0
    smsc_control_port: int = 8775
    receipt_delay_s: float = 1.0
    sms_workers: int = 1
    edges: int = 1
    # Edge i listens on edge_ports[i]; edge 0 on edge_port, each further one on
    # a port free when the config is made (edge_port + i may be anyone's).
    edge_ports: tuple[int, ...] = ()
    webhook_retry_delays_s: str = ""
    # Let webhooks go to 127.0.0.0/8 (the SSRF guard refuses it otherwise): for
    # make run, tests and benchmarks, whose receivers run on this machine.
    allow_loopback_webhooks: bool = False
    traces_file: str = ""
    # Bearer token of the operator API (/admin/v1); a fresh random one by default.
    admin_token: str = field(default_factory=lambda: "opr_" + secrets.token_urlsafe(24))
    log_dir: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    # Each service in a process group of its own, out of the terminal's: Ctrl-C
    # then reaches only the runner, which stops them in order (``make run``).
    # Off for tests, whose services should die with an interrupted test run.
    own_process_groups: bool = False

    @classmethod
    def isolated(cls, name: str, **overrides: object) -> PlatformConfig:
        """Unique database and bus prefix, free ports: for tests and benchmarks."""
        values: dict[str, object] = {
            "database": name,
            "bus_prefix": name,
            "edge_port": free_port(),
            "sms_grpc_port": free_port(),
            "sms_worker_health_port": free_port(),
            "webhooks_grpc_port": free_port(),
            "numbers_grpc_port": free_port(),
            "smsc_port": free_port(),
            "smsc_control_port": free_port(),
            "allow_loopback_webhooks": True,
            # Tests and benchmarks drive one tenant far past the product's default
            # request limit; a test of limits sets its tenant's own in the database.
            "extra_env": {
                # Fault tests kill workers: recover in seconds, not the default 30 s.
                "OMNIGATE_SMS_WORKER_CLAIM_LEASE_S": "3",
                "OMNIGATE_RATELIMIT_DEFAULT_PER_S": "1000000",
                "OMNIGATE_RATELIMIT_DEFAULT_BURST": "1000000",
            },
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        if not self.edge_ports:
            extra = (free_port() for _ in range(self.edges - 1))
            self.edge_ports = (self.edge_port, *extra)
        if len(self.edge_ports) != self.edges or self.edge_ports[0] != self.edge_port:
            raise ValueError("edge_ports must name one port per edge, edge_port first")

    @property
    def edge_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.edge_ports]

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/{self.database}"

    @property
    def edge_url(self) -> str:
        return self.edge_urls[0]

    @property
    def webhooks_target(self) -> str:
        return f"127.0.0.1:{self.webhooks_grpc_port}"

    @property
    def numbers_target(self) -> str:
        return f"127.0.0.1:{self.numbers_grpc_port}"


@dataclass
class _Proc:
    name: str
    module: str
    env: dict[str, str]
    # Ready when this URL answers 200, or this gRPC health port SERVING.
    ready_url: str | None
    ready_port: int | None
    process: Child | None = None


class Platform:
    """Starts, watches and stops the platform's processes."""

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config
        self._procs: list[_Proc] = []
        self._metrics_ports: dict[str, int] = {}

    def _common_env(self, service: str) -> dict[str, str]:
        c = self.config
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OMNIGATE_", "OTEL_"))}
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "OMNIGATE_DB_DSN": c.dsn,
                "OMNIGATE_BUS_URL": c.amqp_url,
                "OMNIGATE_BUS_PREFIX": c.bus_prefix,
                "OMNIGATE_RATELIMIT_KEY_PREFIX": c.bus_prefix,
                "OMNIGATE_SMS_PACING_KEY_PREFIX": c.bus_prefix,
                "OTEL_SERVICE_NAME": service,
            }
        )
        if c.traces_file:
            env["OTEL_TRACES_EXPORTER"] = "jsonl"
            env["OMNIGATE_TRACES_FILE"] = c.traces_file
        if c.allow_loopback_webhooks and service == "webhooks":
            env["OMNIGATE_WEBHOOKS_ALLOWED_PRIVATE_NETWORKS"] = "127.0.0.0/8"
        env.update(c.extra_env)
        return env

    def _plan(self) -> list[_Proc]:
        c = self.config
        procs = []
        smsc = self._common_env("devsmsc") | {
            "OMNIGATE_DEVSMSC_PORT": str(c.smsc_port),
            "OMNIGATE_DEVSMSC_CONTROL_PORT": str(c.smsc_control_port),
            "OMNIGATE_DEVSMSC_RECEIPT_DELAY_S": str(c.receipt_delay_s),
        }
        procs.append(
            _Proc(
                "devsmsc",
                "services.devsmsc.main",
                smsc,
                f"http://127.0.0.1:{c.smsc_control_port}/stats",
                None,
            )
        )
        # Before sms, which asks it who owns an address its copy does not know.
        numbers = self._common_env("numbers") | {
            "OMNIGATE_METRICS_PORT": str(free_port()),
            "OMNIGATE_NUMBERS_GRPC_PORT": str(c.numbers_grpc_port),
        }
        procs.append(_Proc("numbers", "services.numbers.main", numbers, None, c.numbers_grpc_port))
        sms = self._common_env("sms") | {
            "OMNIGATE_SMS_GRPC_PORT": str(c.sms_grpc_port),
            "OMNIGATE_METRICS_PORT": str(free_port()),
            "OMNIGATE_NUMBERS_CLIENT_TARGET": c.numbers_target,
        }
        procs.append(_Proc("sms", "services.sms.main", sms, None, c.sms_grpc_port))
        for i in range(c.sms_workers):
            health = c.sms_worker_health_port if i == 0 else free_port()
            env = self._common_env("sms-worker") | {
                "OMNIGATE_SMPP_HOST": "127.0.0.1",
                "OMNIGATE_SMPP_PORT": str(c.smpp_port or c.smsc_port),
                "OMNIGATE_SMPP_SYSTEM_ID": "omnigate",
                "OMNIGATE_SMPP_PASSWORD": "secret",
                "OMNIGATE_METRICS_PORT": str(free_port()),
                "OMNIGATE_SMS_WORKER_HEALTH_PORT": str(health),
                "OMNIGATE_NUMBERS_CLIENT_TARGET": c.numbers_target,
            }
            procs.append(_Proc(f"sms-worker-{i}", "services.sms.worker_main", env, None, health))
        hooks = self._common_env("webhooks") | {
            "OMNIGATE_METRICS_PORT": str(free_port()),
            "OMNIGATE_WEBHOOKS_GRPC_PORT": str(c.webhooks_grpc_port),
        }
        if c.webhook_retry_delays_s:
            hooks["OMNIGATE_WEBHOOKS_RETRY_DELAYS_S"] = c.webhook_retry_delays_s
        procs.append(_Proc("webhooks", "services.webhooks.main", hooks, None, c.webhooks_grpc_port))
        for i, port in enumerate(c.edge_ports):
            edge = self._common_env("edge") | {
                "OMNIGATE_METRICS_PORT": str(free_port()),
                "OMNIGATE_EDGE_PORT": str(port),
                "OMNIGATE_SMS_CLIENT_TARGET": f"127.0.0.1:{c.sms_grpc_port}",
                "OMNIGATE_WEBHOOKS_CLIENT_TARGET": c.webhooks_target,
                "OMNIGATE_NUMBERS_CLIENT_TARGET": c.numbers_target,
                "OMNIGATE_EDGE_ADMIN_TOKEN": c.admin_token,
            }
            procs.append(
                _Proc(
                    f"edge-{i}",
                    "services.edge.main",
                    edge,
                    f"http://127.0.0.1:{port}/healthz",
                    None,
                )
            )
        return procs

    async def ensure_database(self) -> None:
        admin = await asyncpg.connect(self.config.pg_admin_dsn)
        try:
            exists = await admin.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", self.config.database
            )
            if not exists:
                await admin.execute(f'CREATE DATABASE "{self.config.database}"')
        finally:
            await admin.close()

    async def start(self, timeout_s: float = 60.0) -> None:
        await self.ensure_database()
        self._procs = self._plan()
        for proc in self._procs:
            await self._spawn(proc)
            await self._wait_ready(proc, timeout_s)

    async def _spawn(self, proc: _Proc) -> None:
        log = self._log_file(proc.name)
        try:
            proc.process = Child.start(
                (sys.executable, "-m", proc.module),
                env=proc.env,
                output=log,
                # A session of its own is a process group of its own.
                new_session=self.config.own_process_groups,
            )
        finally:
            if log is not None:
                log.close()  # the child has its own descriptor now

    def _log_file(self, name: str) -> IO[bytes] | None:
        """The process's log file, or None to inherit ours (``make run`` shows every line)."""
        if not self.config.log_dir:
            return None
        Path(self.config.log_dir).mkdir(parents=True, exist_ok=True)
        return open(Path(self.config.log_dir) / f"{name}.log", "ab")

    async def _wait_ready(self, proc: _Proc, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                assert proc.process is not None
                if proc.process.returncode is not None:
                    raise RuntimeError(f"{proc.name} exited with {proc.process.returncode}")
                try:
                    if proc.ready_url:
                        async with session.get(proc.ready_url) as r:
                            if r.status == 200:
                                return
                    elif proc.ready_port and await grpc_health(proc.ready_port) == SERVING:
                        return
                except (aiohttp.ClientError, OSError, grpc.aio.AioRpcError):
                    pass  # not up yet
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{proc.name} not ready after {timeout_s} s")

    async def create_tenant(self, name: str) -> dict[str, str]:
        """Create a tenant with the operator CLI, as an operator would; returns its credentials."""
        created: dict[str, str] = await self.admin("create-tenant", name)
        return created

    async def assign_number(self, tenant_id: str, number: str) -> dict[str, Any]:
        """Assign ``number`` (or a sender ID) to the tenant with the operator CLI."""
        assigned: dict[str, Any] = await self.admin("assign-number", tenant_id, number)
        return assigned

    async def admin(self, *args: str) -> Any:
        """What ``omnigate-admin <args> --json`` prints, run against this platform."""
        # In a thread with subprocess.run, not the loop's subprocess: see deploy/local/child.py.
        cli = await asyncio.to_thread(
            subprocess.run,
            (sys.executable, "-m", "services.edge.cli", *args, "--json"),
            cwd=ROOT,
            env={
                "OMNIGATE_DB_DSN": self.config.dsn,
                "OMNIGATE_WEBHOOKS_CLIENT_TARGET": self.config.webhooks_target,
                "OMNIGATE_NUMBERS_CLIENT_TARGET": self.config.numbers_target,
                "OMNIGATE_BUS_URL": self.config.amqp_url,
                "OMNIGATE_BUS_PREFIX": self.config.bus_prefix,
                "PATH": os.environ.get("PATH", ""),
            },
            capture_output=True,
        )
        if cli.returncode != 0:
            raise RuntimeError(f"omnigate-admin {args[0]} failed: {cli.stderr.decode()}")
        return orjson.loads(cli.stdout)

    def process(self, name: str) -> Child:
        for p in self._procs:
            if p.name == name and p.process is not None:
                return p.process
        raise KeyError(name)

    def health_ports(self) -> dict[str, int]:
        """Each process's gRPC health port, by process name (what readiness waits on)."""
        return {p.name: p.ready_port for p in self._procs if p.ready_port is not None}

    def metrics_urls(self) -> dict[str, str]:
        """Each process's Prometheus endpoint, by process name."""
        return {
            p.name: f"http://127.0.0.1:{p.env['OMNIGATE_METRICS_PORT']}/metrics"
            for p in self._procs
            if "OMNIGATE_METRICS_PORT" in p.env
        }

    async def work_counts(self) -> dict[str, tuple[float, float]]:
        """(database statements, bus publishes) so far, by process, from their metrics."""
        counts = {}
        async with aiohttp.ClientSession() as http:
            for name, url in self.metrics_urls().items():
                db = published = 0.0
                async with http.get(url) as r:
                    for line in (await r.text()).splitlines():
                        if line.startswith("omnigate_db_queries_total{"):
                            db += float(line.rsplit(" ", 1)[1])
                        elif line.startswith("omnigate_bus_published_total "):
                            published += float(line.rsplit(" ", 1)[1])
                counts[name] = (db, published)
        return counts

    def pids(self) -> dict[str, int]:
        return {p.name: p.process.pid for p in self._procs if p.process is not None}

    async def kill(self, name: str) -> None:
        """SIGKILL one process (a fault test)."""
        proc = self.process(name)
        proc.kill()
        await proc.wait()

    async def restart(self, name: str, timeout_s: float = 60.0) -> None:
        for p in self._procs:
            if p.name == name:
                if p.process is not None and p.process.returncode is None:
                    p.process.kill()
                    await p.process.wait()
                await self._spawn(p)
                await self._wait_ready(p, timeout_s)
                return
        raise KeyError(name)

    async def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM in reverse start order (edges first), so work drains downstream."""
        for proc in reversed(self._procs):
            if proc.process is not None and proc.process.returncode is None:
                proc.process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.process.wait(), grace_s)
                except TimeoutError:
                    proc.process.kill()
                    await proc.process.wait()

    async def drop(self) -> None:
        """Remove the database and bus objects of an isolated platform."""
        admin = await asyncpg.connect(self.config.pg_admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.config.database}" WITH (FORCE)')
        finally:
            await admin.close()
        await delete_bus_objects(self.config.amqp_url, self.config.bus_prefix)


# Every queue the platform's consumers declare (for clean-up of isolated runs).
QUEUES = ("sms.submit", "sms.numbers", "webhooks.events")


async def delete_bus_objects(amqp_url: str, prefix: str) -> None:
    """Delete an isolated run's queues (with their retry and dead-letter queues) and exchanges."""
    from libs.bus import Bus, BusConfig, QueueSpec, delete_topology

    config = BusConfig(url=amqp_url, prefix=prefix)
    # The most retry steps any queue may have, so that every delay queue is named.
    specs = [QueueSpec(name, retry_delays_s=(1.0,) * 20) for name in QUEUES]
    async with await Bus.connect(config, name="cleanup") as bus:
        channel = await bus.channel()
        await delete_topology(channel, config, specs)


async def _run_forever(config: PlatformConfig) -> None:
    platform = Platform(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # SIGHUP too: the services are out of the terminal's session, so closing
    # the terminal reaches only the runner, which must then stop them.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    try:
        await platform.start()
        print(
            f"\nOmnigate is running: API {config.edge_url}  (dev SMSC smpp://127.0.0.1:"
            f"{config.smsc_port}, control http://127.0.0.1:{config.smsc_control_port})\n"
            f"Operator API: {config.edge_url}/admin/v1 with 'Authorization: Bearer"
            f" {config.admin_token}'\n"
            "Create a tenant: .venv/bin/omnigate-admin create-tenant acme   Stop: Ctrl-C\n",
            flush=True,
        )
        await stop.wait()
    finally:
        await platform.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the Omnigate platform on this machine")
    parser.add_argument("--edge-port", type=int, default=8080)
    parser.add_argument("--receipt-delay", type=float, default=1.0)
    args = parser.parse_args()
    asyncio.run(
        _run_forever(
            PlatformConfig(
                edge_port=args.edge_port,
                receipt_delay_s=args.receipt_delay,
                own_process_groups=True,
                # A developer receives webhooks on this machine; a deployment
                # refuses private addresses (deploy/kubernetes leaves it off).
                allow_loopback_webhooks=True,
            )
        )
    )


if __name__ == "__main__":
    main()
