"""One trace per request: edge -> gRPC -> outbox publish -> worker -> SMPP submit."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import aiohttp
import orjson
import pytest

from tests.e2e.conftest import TenantCredentials, auth, wait_for_status

pytestmark = pytest.mark.e2e


async def _spans_of(path: Path, trace_id: str, want: int, timeout_s: float = 20.0) -> list[dict]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        data = await asyncio.to_thread(lambda: path.read_bytes() if path.exists() else b"")
        spans = [s for s in map(orjson.loads, data.splitlines()) if s["trace_id"] == trace_id]
        if len(spans) >= want or asyncio.get_running_loop().time() > deadline:
            return spans
        await asyncio.sleep(0.2)


async def test_one_trace_links_edge_grpc_bus_worker_and_smpp_spans(
    http: aiohttp.ClientSession, tenant: TenantCredentials, run_dir: Path
) -> None:
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    body = {"to": "+447700900000", "from": tenant.number, "body": "trace me"}
    async with http.post(
        "/v1/messages", json=body, headers=auth(tenant) | {"traceparent": traceparent}
    ) as r:
        assert r.status == 201
        message_id = (await r.json())["id"]
    await wait_for_status(http, tenant, message_id, {"delivered"})
    spans = await _spans_of(run_dir / "traces.jsonl", trace_id, want=6)
    by_id = {s["span_id"]: s for s in spans}

    def one(service: str, kind: str, name_part: str) -> dict:
        found = [
            s
            for s in spans
            if s["service"] in service.split("|") and s["kind"] == kind and name_part in s["name"]
        ]
        seen = [(s["service"], s["kind"], s["name"]) for s in spans]
        assert found, f"no {kind} span of {service} named *{name_part}* in {seen}"
        return found[0]

    edge = one("edge", "SERVER", "POST /v1/messages")
    # Messages travel to the sms service in batches (SendMessages); each keeps
    # its own trace through a per-message span on either side of the call.
    grpc_client = one("edge", "CLIENT", "SendMessages item")
    grpc_server = one("sms", "INTERNAL", "SendMessages item")
    # Either sms process may relay the outbox row: they share the outbox.
    publish = one("sms|sms-worker", "PRODUCER", "sms.submit publish")
    consume = one("sms-worker", "CONSUMER", "sms.submit process")
    sent_publish = one("sms|sms-worker", "PRODUCER", "sms.message.sent publish")
    webhook = one("webhooks", "CONSUMER", "webhooks.events process")
    worker = one("sms-worker", "INTERNAL", "sms submit message")
    submit = one("sms-worker", "CLIENT", "submit_sm")

    assert grpc_client["parent_span_id"] == edge["span_id"]
    assert grpc_server["parent_span_id"] == grpc_client["span_id"]
    assert publish["parent_span_id"] == grpc_server["span_id"]
    # The consumer's span covers a batch: it is the message's child only when the
    # batch held this one message; the per-message worker span always is.
    assert consume["parent_span_id"] in (publish["span_id"], None)
    # A submit command carries the messages one tenant had accepted together, each
    # with its own trace context: the per-message worker span continues the
    # request's trace even when its message was not the command's first.
    assert worker["parent_span_id"] == grpc_server["span_id"]
    assert submit["parent_span_id"] == worker["span_id"]
    # The status event and its webhook continue the same trace.
    assert sent_publish["trace_id"] == webhook["trace_id"] == trace_id
    assert all(
        s["parent_span_id"] is None or s["parent_span_id"] in by_id or s is edge for s in spans
    )
