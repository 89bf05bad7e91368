"""The whole platform, started once per test session as separate processes."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from deploy.local.platform import Platform, PlatformConfig
from tests.helpers.infra import unique_name
from tests.helpers.tcp_proxy import TcpProxy
from tests.helpers.webhooks import WebhookReceiver


@dataclass
class TenantCredentials:
    tenant_id: str
    api_key: str
    webhook_secret: str
    # The tenant's own number, which it sends from.
    number: str = ""


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("platform")


@pytest.fixture(scope="session")
async def platform(run_dir: Path) -> AsyncIterator[Platform]:
    config = PlatformConfig.isolated(
        unique_name("e2e"),
        receipt_delay_s=0.2,
        webhook_retry_delays_s="0.3,0.6,1.0",
        traces_file=str(run_dir / "traces.jsonl"),
        log_dir=str(run_dir / "logs"),
    )
    async with running_platform(config) as running:
        yield running


@asynccontextmanager
async def running_platform(config: PlatformConfig) -> AsyncIterator[Platform]:
    """``config``'s platform, started; stopped, and its database and bus objects dropped, after."""
    running = Platform(config)
    try:
        await running.start()
        yield running
    finally:
        await running.stop()
        await running.drop()


@pytest.fixture(scope="module")
async def broker_proxy() -> AsyncIterator[TcpProxy]:
    """A TCP proxy to RabbitMQ that a module's own platform connects through, to cut it."""
    async with TcpProxy("127.0.0.1", 5672) as proxy:
        yield proxy


def through(proxy: TcpProxy) -> str:
    """The AMQP URL that reaches the broker through ``proxy``, retrying every 0.3 s."""
    return f"amqp://guest:guest@127.0.0.1:{proxy.port}/?reconnect_interval=0.3"


async def create_tenant(platform: Platform, name: str) -> TenantCredentials:
    """A tenant with a number of its own assigned, as an operator sets one up."""
    data = await platform.create_tenant(name)
    # A number of its own (a number has one owner) from the dev SMSC's drama
    # range, 100-899: the 9xx numbers are left to tests that assign theirs by hand.
    for _ in range(50):
        number = f"+447700900{100 + secrets.randbelow(800):03d}"
        try:
            await platform.assign_number(data["tenant_id"], number)
        except RuntimeError as exc:
            if "already assigned" in str(exc):
                continue
            raise
        return TenantCredentials(data["tenant_id"], data["api_key"], data["webhook_secret"], number)
    raise RuntimeError("no free test number left")


@pytest.fixture(scope="session")
async def tenant(platform: Platform) -> TenantCredentials:
    return await create_tenant(platform, "acme")


@pytest.fixture(scope="session")
async def other_tenant(platform: Platform) -> TenantCredentials:
    return await create_tenant(platform, "globex")


@pytest.fixture(scope="session")
async def receiver(tenant: TenantCredentials) -> AsyncIterator[WebhookReceiver]:
    hooks = WebhookReceiver(secret=tenant.webhook_secret)
    await hooks.start()
    yield hooks
    await hooks.stop()


@pytest.fixture
def platform_url(platform: Platform) -> str:
    return platform.config.edge_url


@pytest.fixture
async def http(platform: Platform) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=platform.config.edge_url) as session:
        yield session


def auth(creds: TenantCredentials) -> dict[str, str]:
    return {"Authorization": f"Bearer {creds.api_key}"}


async def wait_for_status(
    http: aiohttp.ClientSession,
    creds: TenantCredentials,
    message_id: str,
    statuses: set[str],
    timeout_s: float = 30.0,
) -> dict[str, object]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        async with http.get(f"/v1/messages/{message_id}", headers=auth(creds)) as r:
            body: dict[str, object] = await r.json()
        if body.get("status") in statuses:
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{message_id} still {body.get('status')}, wanted {statuses}")
        await asyncio.sleep(0.1)


FINAL_STATUSES = {"delivered", "undelivered", "failed", "partially_delivered"}


async def send_many(
    http: aiohttp.ClientSession, creds: TenantCredentials, n: int, tag: str
) -> list[str]:
    """POST ``n`` messages at once; their ids (every one must be accepted)."""

    async def one(i: int) -> str:
        body = {"to": "+447700900000", "from": creds.number, "body": f"{tag} {i}"}
        async with http.post("/v1/messages", json=body, headers=auth(creds)) as r:
            assert r.status == 201
            return str((await r.json())["id"])

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def smsc_stats(platform: Platform) -> dict[str, int]:
    """The dev SMSC's counters (submits, duplicate_submits, ...)."""
    url = f"http://127.0.0.1:{platform.config.smsc_control_port}/stats"
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        stats: dict[str, int] = await r.json()
        return stats
