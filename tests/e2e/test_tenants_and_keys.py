"""Operators manage tenants and keys; a revoked key or suspended tenant is refused at once."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import aiohttp
import orjson
import pytest

from deploy.local.platform import ROOT, Platform

pytestmark = pytest.mark.e2e

SEND = {"to": "+447700900000", "body": "hi"}
# Numbers this module assigns by hand (the conftest's tenants take 1xx-8xx).
SENDS_FROM = "+447700900950"


def operator(platform: Platform) -> dict[str, str]:
    return {"Authorization": f"Bearer {platform.config.admin_token}"}


async def _admin(
    http: aiohttp.ClientSession, platform: Platform, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with http.request(method, f"/admin/v1{path}", json=body, headers=operator(platform)) as r:
        return r.status, await r.json(content_type=None)


async def _status_of(
    http: aiohttp.ClientSession, key: str, method: str = "GET", sender: str = ""
) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    if method == "GET":
        async with http.get("/v1/messages?page_size=1", headers=headers) as r:
            return r.status
    async with http.post("/v1/messages", json=SEND | {"from": sender}, headers=headers) as r:
        return r.status


async def test_operator_api_needs_the_operator_token(http: aiohttp.ClientSession) -> None:
    async with http.get("/admin/v1/tenants") as r:
        assert r.status == 401
        assert r.content_type == "application/problem+json"
    async with http.get("/admin/v1/tenants", headers={"Authorization": "Bearer nope"}) as r:
        assert r.status == 401


async def test_tenant_created_by_operator_api_can_send(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    status, tenant = await _admin(http, platform, "POST", "/tenants", {"name": "initech"})
    assert status == 201, tenant
    assert tenant["api_key"]["secret"].startswith("og_live_")
    assert tenant["webhook_secret"].startswith("whsec_")
    key = tenant["api_key"]["secret"]
    # Until the operator assigns it a number, the tenant has nothing to send from.
    assert await _status_of(http, key, "POST", SENDS_FROM) == 422
    status, number = await _admin(
        http, platform, "POST", f"/tenants/{tenant['id']}/numbers", {"number": SENDS_FROM}
    )
    assert status == 201, number
    assert await _status_of(http, key, "POST", SENDS_FROM) == 201
    status, listed = await _admin(http, platform, "GET", f"/tenants/{tenant['id']}/keys")
    assert status == 200
    assert [k["prefix"] for k in listed["data"]] == [tenant["api_key"]["secret"][:14]]
    assert "secret" not in listed["data"][0]


async def test_scoped_keys_may_do_only_what_their_scopes_allow(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    _, tenant = await _admin(http, platform, "POST", "/tenants", {"name": "scoped"})
    path = f"/tenants/{tenant['id']}/keys"
    _, send_only = await _admin(http, platform, "POST", path, {"scopes": ["send-only"]})
    _, read_only = await _admin(http, platform, "POST", path, {"scopes": ["read-only"]})
    own = "+447700900951"
    await _admin(http, platform, "POST", f"/tenants/{tenant['id']}/numbers", {"number": own})
    assert await _status_of(http, send_only["secret"], "POST", own) == 201
    assert await _status_of(http, send_only["secret"], "GET") == 403
    assert await _status_of(http, read_only["secret"], "GET") == 200
    assert await _status_of(http, read_only["secret"], "POST", own) == 403
    status, problem = await _admin(http, platform, "POST", path, {"scopes": ["admin"]})
    assert status == 422 and problem["errors"][0]["field"] == "scopes"


async def test_revoked_key_is_refused_at_once_even_when_cached(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    _, tenant = await _admin(http, platform, "POST", "/tenants", {"name": "revoking"})
    key = tenant["api_key"]
    assert await _status_of(http, key["secret"]) == 200  # now cached by the edge
    status, revoked = await _admin(
        http, platform, "DELETE", f"/tenants/{tenant['id']}/keys/{key['id']}"
    )
    assert status == 200 and revoked["revoked_at"]
    assert await _eventually_status(http, key["secret"], 401) == 401


async def test_suspended_tenant_is_refused_at_once_and_can_come_back(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    _, tenant = await _admin(http, platform, "POST", "/tenants", {"name": "suspending"})
    secret = tenant["api_key"]["secret"]
    assert await _status_of(http, secret) == 200
    await _admin(http, platform, "PATCH", f"/tenants/{tenant['id']}", {"status": "suspended"})
    assert await _eventually_status(http, secret, 401) == 401
    await _admin(http, platform, "PATCH", f"/tenants/{tenant['id']}", {"status": "active"})
    assert await _eventually_status(http, secret, 200) == 200


async def test_cli_issues_and_revokes_keys(http: aiohttp.ClientSession, platform: Platform) -> None:
    tenant = await platform.create_tenant("cli")
    created = await _cli(platform, "create-key", tenant["tenant_id"], "--scope", "read-only")
    assert created["scopes"] == ["read-only"]
    assert await _status_of(http, created["secret"]) == 200
    keys = await _cli(platform, "list-keys", tenant["tenant_id"])
    assert len(keys) == 2 and all("secret" not in k for k in keys)
    await _cli(platform, "revoke-key", tenant["tenant_id"], created["id"])
    assert await _eventually_status(http, created["secret"], 401) == 401


async def _eventually_status(
    http: aiohttp.ClientSession, key: str, want: int, within_s: float = 1.0
) -> int:
    """The status within ``within_s``: NOTIFY reaches the edge in milliseconds, not a TTL."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        status = await _status_of(http, key)
        if status == want or asyncio.get_running_loop().time() > deadline:
            return status
        await asyncio.sleep(0.02)


async def _cli(platform: Platform, *args: str) -> Any:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.edge.cli", *args, "--json",
        cwd=ROOT, env={"OMNIGATE_DB_DSN": platform.config.dsn, "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return orjson.loads(out)


async def test_a_key_with_one_scope_is_refused_on_every_route_that_needs_another(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    _, tenant = await _admin(http, platform, "POST", "/tenants", {"name": "one-scope"})
    path = f"/tenants/{tenant['id']}/keys"
    _, key = await _admin(http, platform, "POST", path, {"scopes": ["messages:read"]})
    headers = {"Authorization": f"Bearer {key['secret']}"}
    async with http.get("/v1/openapi.json") as r:
        doc = await r.json()
    checked = 0
    for template, operations in doc["paths"].items():
        url = template.replace("{id}", "whk_x").replace("{delivery_id}", "dlv_x")
        for method, op in operations.items():
            if method == "parameters":
                continue
            (needed,) = op["security"][0]["bearerAuth"]
            async with http.request(method, url, json={}, headers=headers) as r:
                status = r.status
            if needed == "messages:read":
                assert status != 403, (method, template)
            else:
                assert status == 403, (method, template, needed)
                checked += 1
    assert checked >= 9  # messages:write and every webhooks route


@pytest.mark.parametrize(
    "limit, field",
    [
        ({"per_s": 6.2e307}, "rate_limit.per_s"),  # its default burst overflowed the column: 500
        ({"per_s": 10, "burst": 2**40}, "rate_limit.burst"),
        ({"per_s": 0}, "rate_limit.per_s"),
    ],
)
async def test_an_impossible_rate_limit_is_a_422_not_a_500(
    http: aiohttp.ClientSession, platform: Platform, limit: dict[str, float], field: str
) -> None:
    status, problem = await _admin(
        http, platform, "POST", "/tenants", {"name": "limitless", "rate_limit": limit}
    )
    assert status == 422, problem
    assert problem["errors"][0]["field"] == field
