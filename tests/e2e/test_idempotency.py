"""Idempotency-Key: a retried POST returns the first response and creates one message."""

from __future__ import annotations

import asyncio
import secrets

import aiohttp
import pytest

from tests.e2e.conftest import TenantCredentials, auth

pytestmark = pytest.mark.e2e

BODY = {"to": "+447700900000", "body": "exactly once"}


async def _post(
    http: aiohttp.ClientSession, creds: TenantCredentials, key: str, body: dict[str, str] = BODY
) -> tuple[int, dict[str, object], dict[str, str]]:
    headers = auth(creds) | {"Idempotency-Key": key}
    sent = {"from": creds.number} | body
    async with http.post("/v1/messages", json=sent, headers=headers) as r:
        return r.status, await r.json(content_type=None), dict(r.headers)


async def test_retry_with_the_same_key_replays_the_first_response(
    http: aiohttp.ClientSession, tenant: TenantCredentials
) -> None:
    key = secrets.token_hex(8)
    status, first, _ = await _post(http, tenant, key)
    assert status == 201
    status, again, headers = await _post(http, tenant, key)
    assert status == 201
    assert again == first
    assert headers["Idempotent-Replayed"] == "true"
    assert headers["Location"] == f"/v1/messages/{first['id']}"


async def test_same_key_with_a_different_body_is_422(
    http: aiohttp.ClientSession, tenant: TenantCredentials
) -> None:
    key = secrets.token_hex(8)
    assert (await _post(http, tenant, key))[0] == 201
    status, problem, _ = await _post(http, tenant, key, BODY | {"body": "something else"})
    assert status == 422
    assert "Idempotency-Key" in str(problem["detail"])


async def test_concurrent_requests_with_one_key_create_one_message(
    http: aiohttp.ClientSession, tenant: TenantCredentials
) -> None:
    key = secrets.token_hex(8)
    results = await asyncio.gather(*(_post(http, tenant, key) for _ in range(8)))
    assert {r[0] for r in results} == {201}
    assert len({r[1]["id"] for r in results}) == 1


async def test_retry_after_a_network_cut_creates_exactly_one_message(
    platform_url: str, tenant: TenantCredentials, http: aiohttp.ClientSession
) -> None:
    key = secrets.token_hex(8)
    # The client gives up before the answer arrives (a cut connection); the server carries on.
    async with aiohttp.ClientSession(base_url=platform_url) as impatient:
        with pytest.raises(TimeoutError):
            async with impatient.post(
                "/v1/messages",
                json={"from": tenant.number} | BODY | {"body": f"cut {key}"},
                headers=auth(tenant) | {"Idempotency-Key": key},
                timeout=aiohttp.ClientTimeout(total=0.001),
            ):
                pass
    status, message, _ = await _post(http, tenant, key, BODY | {"body": f"cut {key}"})
    assert status == 201
    ids = set()
    url = "/v1/messages?page_size=100"
    async with http.get(url, headers=auth(tenant)) as r:
        ids = {m["id"] for m in (await r.json())["data"] if m["body"] == f"cut {key}"}
    assert ids == {message["id"]}


async def test_a_bad_key_is_refused(http: aiohttp.ClientSession, tenant: TenantCredentials) -> None:
    status, problem, _ = await _post(http, tenant, "x" * 300)
    assert status == 422
    assert problem["errors"][0]["field"] == "Idempotency-Key"
