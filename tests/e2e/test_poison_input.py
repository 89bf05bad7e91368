"""No input can fail another request: text no hop can carry is a 422 naming its field.

A NUL character used to pass validation, fail the micro-batched INSERT it
joined and so answer 500 to every request batched with it, another
tenant's included.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploy.local.platform import Platform
from tests.e2e.conftest import TenantCredentials, auth

pytestmark = pytest.mark.e2e

NUL = "\u0000"
VALID = {"to": "+447700900000", "body": "hello"}


def _named(problem: dict[str, Any]) -> set[str]:
    return {e["field"] for e in problem.get("errors", [])}


@pytest.mark.parametrize(
    "field, value",
    [
        ("body", f"hel{NUL}lo"),
        ("status_callback", f"https://example.com/{NUL}"),
        ("to", f"+4477009{NUL}0000"),
        ("from", f"{NUL}+447700900999"),
    ],
)
async def test_a_nul_in_a_message_field_is_a_422_naming_it(
    http: aiohttp.ClientSession, tenant: TenantCredentials, field: str, value: str
) -> None:
    body = VALID | {"from": tenant.number} | {field: value}
    async with http.post("/v1/messages", json=body, headers=auth(tenant)) as r:
        assert r.status == 422, await r.text()
        assert r.content_type == "application/problem+json"
        assert field in _named(await r.json())


async def test_a_nul_in_every_documented_string_field_is_a_4xx(
    http: aiohttp.ClientSession, tenant: TenantCredentials
) -> None:
    """Each string (or list of strings) property of each documented request body, in turn."""
    async with http.get("/v1/openapi.json") as r:
        doc = await r.json()
    tried = 0
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            if method == "parameters":
                continue
            schema = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            props = _resolve(doc, schema.get("schema", {})).get("properties", {})
            url = path.replace("{id}", "whk_0000000000000000000000000000")
            url = url.replace("{delivery_id}", "dlv_0000000000000000000000000000")
            for name, prop in props.items():
                prop = _resolve(doc, prop)
                if prop.get("type") == "string":
                    value: Any = f"x{NUL}y"
                elif prop.get("type") == "array" and prop.get("items", {}).get("type") == "string":
                    value = ["message.sent", f"x{NUL}y"]
                else:
                    continue
                async with http.request(
                    method, url, json={name: value}, headers=auth(tenant)
                ) as resp:
                    assert 400 <= resp.status < 500, f"{method} {path} {name}: {resp.status}"
                    assert name in " ".join(_named(await resp.json())), (method, path, name)
                tried += 1
    assert tried >= 8  # messages' and endpoints' fields at least


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return _resolve(doc, node)


@pytest.mark.parametrize(
    "path, where",
    [
        (f"/v1/messages?page_token=ab{NUL}", "page_token"),
        (f"/v1/messages?page_size=1{NUL}", "page_size"),
        (f"/v1/messages/msg_{NUL}", "id"),
        (f"/v1/webhook_endpoints/whk_{NUL}/deliveries", "id"),
    ],
)
async def test_a_nul_in_a_query_parameter_or_path_is_a_422_naming_it(
    http: aiohttp.ClientSession, tenant: TenantCredentials, path: str, where: str
) -> None:
    async with http.get(path.replace(NUL, "%00"), headers=auth(tenant)) as r:
        assert r.status == 422, await r.text()
        assert where in _named(await r.json())


async def test_a_nul_in_a_webhook_endpoint_description_is_a_422(
    http: aiohttp.ClientSession, tenant: TenantCredentials
) -> None:
    body = {"url": "https://93.184.215.14/hooks", "event_types": ["*"], "description": NUL}
    async with http.post("/v1/webhook_endpoints", json=body, headers=auth(tenant)) as r:
        assert r.status == 422, await r.text()
        assert _named(await r.json()) == {"description"}


@pytest.mark.parametrize(
    "path, body",
    [
        ("/admin/v1/tenants", {"name": f"acme{NUL}"}),
        ("/admin/v1/tenants", {"name": "acme", f"rate{NUL}": 1}),
    ],
)
async def test_a_nul_in_an_operator_request_is_a_422(
    http: aiohttp.ClientSession, platform: Platform, path: str, body: dict[str, Any]
) -> None:
    headers = {"Authorization": f"Bearer {platform.config.admin_token}"}
    async with http.post(path, json=body, headers=headers) as r:
        assert r.status == 422, await r.text()


async def _post(http: aiohttp.ClientSession, creds: TenantCredentials, raw: bytes) -> int:
    headers = auth(creds) | {"Content-Type": "application/json"}
    async with http.post("/v1/messages", data=raw, headers=headers) as r:
        await r.read()
        return r.status


async def test_poison_among_64_concurrent_requests_fails_no_other_request(
    http: aiohttp.ClientSession, tenant: TenantCredentials, other_tenant: TenantCredentials
) -> None:
    """The issue's round: 4 NUL bodies of one tenant among 60 valid messages of another."""
    poison = json.dumps(VALID | {"from": tenant.number, "body": f"bad{NUL}"}).encode()
    for round_ in range(3):
        valid = [
            json.dumps(VALID | {"from": other_tenant.number, "body": f"r{round_} m{i}"}).encode()
            for i in range(60)
        ]
        calls = [_post(http, other_tenant, v) for v in valid]
        for at in (3, 20, 37, 55):
            calls.insert(at, _post(http, tenant, poison))
        statuses = await asyncio.gather(*calls)
        valid_statuses = [s for i, s in enumerate(statuses) if i not in (3, 20, 37, 55)]
        assert Counter(valid_statuses) == {201: 60}
        assert [statuses[i] for i in (3, 20, 37, 55)] == [422] * 4


# What one tenant can get wrong in a send, as the raw JSON body it posts.
_BAD_TEXT = st.sampled_from([NUL, "\\ud800", "\\udfff"])


@st.composite
def _invalid_send(draw: st.DrawFn) -> bytes:
    field = draw(st.sampled_from(["to", "from", "body", "status_callback"]))
    base = {
        "to": "+447700900000",
        # Invalid whatever the number: the poison is in the text.
        "from": "+447700900999",
        "body": draw(st.text(min_size=1, max_size=40).filter(lambda s: NUL not in s)),
        "status_callback": "https://example.com/status",
    }
    value = base[field]
    at = draw(st.integers(min_value=0, max_value=len(value)))
    bad = draw(_BAD_TEXT)
    if bad == NUL:
        return json.dumps(base | {field: value[:at] + NUL + value[at:]}).encode()
    # A lone surrogate can only be written as a JSON escape.
    text = json.dumps(base | {field: value[:at] + "@@" + value[at:]}, ensure_ascii=False)
    return text.replace("@@", bad, 1).encode("utf-8", "surrogatepass")


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    bad=st.lists(_invalid_send(), min_size=1, max_size=16),
    order=st.randoms(use_true_random=False),
)
async def test_one_tenants_invalid_sends_never_fail_another_tenants_valid_ones(
    platform: Platform,
    tenant: TenantCredentials,
    other_tenant: TenantCredentials,
    bad: list[bytes],
    order: Any,
) -> None:
    valid = [
        json.dumps(VALID | {"from": other_tenant.number, "body": f"valid {i}"}).encode()
        for i in range(64 - len(bad))
    ]
    calls = [(other_tenant, v, True) for v in valid] + [(tenant, b, False) for b in bad]
    order.shuffle(calls)
    async with aiohttp.ClientSession(base_url=platform.config.edge_url) as http:
        statuses = await asyncio.gather(*(_post(http, c, raw) for c, raw, _ in calls))
    for (_, raw, ok), status in zip(calls, statuses, strict=True):
        if ok:
            assert status == 201, raw
        else:
            assert 400 <= status < 500, (status, raw)
