"""When a service behind the edge is down or stuck, tenants get a problem, never a hang."""

from __future__ import annotations

import asyncio
import signal
import time

import aiohttp
import pytest

from deploy.local.platform import Platform
from tests.e2e.conftest import TenantCredentials, auth

pytestmark = pytest.mark.e2e

BODY = {"to": "+447700900000", "body": "anyone there?"}


async def test_stuck_sms_service_is_a_504_after_the_deadline_not_a_hang(
    http: aiohttp.ClientSession, tenant: TenantCredentials, platform: Platform
) -> None:
    sms = platform.process("sms")
    sms.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        async with http.post(
            "/v1/messages", json=BODY | {"from": tenant.number}, headers=auth(tenant)
        ) as r:
            assert r.status == 504
            assert r.content_type == "application/problem+json"
        assert time.monotonic() - started < 8  # the 5 s gRPC deadline, not forever
    finally:
        sms.send_signal(signal.SIGCONT)


async def test_sms_service_down_is_a_503_at_once(
    http: aiohttp.ClientSession, tenant: TenantCredentials, platform: Platform
) -> None:
    await platform.kill("sms")
    try:
        started = time.monotonic()
        async with http.get("/v1/messages?page_size=1", headers=auth(tenant)) as r:
            assert r.status == 503
            assert (await r.json(content_type=None))["type"].endswith("/unavailable")
        assert time.monotonic() - started < 8
    finally:
        await platform.restart("sms")
    # And it recovers by itself once the service is back.
    for _ in range(50):
        async with http.get("/v1/messages?page_size=1", headers=auth(tenant)) as r:
            if r.status == 200:
                return
        await asyncio.sleep(0.1)
    raise AssertionError("the edge did not recover after the sms service came back")
