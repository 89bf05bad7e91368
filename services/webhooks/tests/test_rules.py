"""The webhook sender's rules without a network: SSRF guard, backoff, signatures, outcomes."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import random
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from libs.events import catalog
from libs.http import HttpClient
from services.webhooks import endpoints
from services.webhooks.retries import FAILED, PENDING, SUCCEEDED, backoff_s, decide
from services.webhooks.sender import (
    Outcome,
    Result,
    WebhookSender,
    retry_after_s,
    sign_all,
)
from services.webhooks.signing_secrets import new_secret
from services.webhooks.ssrf import (
    BlockedAddress,
    UnsafeUrl,
    check_url,
    check_url_syntax,
    guarded_resolver,
    is_blocked,
    parse_networks,
)

LOOPBACK = parse_networks(["127.0.0.0/8"])


@pytest.mark.parametrize(
    ("address", "blocked"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("10.0.0.1", True),
        ("172.16.5.4", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),  # cloud metadata
        ("100.64.0.1", True),  # CGNAT shared space
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("240.0.0.1", True),
        ("255.255.255.255", True),
        ("192.0.2.1", True),  # documentation
        ("::1", True),
        ("::", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("ff02::1", True),
        ("::ffff:10.0.0.1", True),
        ("::ffff:127.0.0.1", True),
        ("2001:db8::1", True),
        ("8.8.8.8", False),
        ("93.184.216.34", False),
        ("2606:4700:4700::1111", False),
        ("::ffff:8.8.8.8", False),
    ],
)
def test_ssrf_guard_blocks_every_non_public_address(address: str, blocked: bool) -> None:
    assert is_blocked(ipaddress.ip_address(address)) is blocked


@pytest.mark.parametrize(
    ("address", "blocked"),
    [("127.0.0.1", False), ("::ffff:127.0.0.1", False), ("10.0.0.1", True), ("::1", True)],
)
def test_allowed_networks_are_exempt_and_nothing_else(address: str, blocked: bool) -> None:
    assert is_blocked(ipaddress.ip_address(address), LOOPBACK) is blocked


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "http:///nohost",
        "http://10.0.0.1/x",
        "https://[::1]:8443/x",
        "http://[::ffff:a00:1]/x",
        "http://example.com:99999/x",
    ],
)
def test_urls_refused_without_dns(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        check_url_syntax(url)


async def test_host_names_are_resolved_and_every_address_checked() -> None:
    with pytest.raises(UnsafeUrl, match="resolves to a private"):
        await check_url("http://localhost:8080/hook")
    await check_url("http://localhost:8080/hook", LOOPBACK)
    await check_url("http://127.0.0.1:8080/hook", LOOPBACK)
    with pytest.raises(UnsafeUrl, match="could not be resolved"):
        await check_url("http://no-such-host.invalid/hook")


async def test_a_resolver_that_never_answers_is_a_refusal_in_bounded_time() -> None:
    # A DNS server that drops a query made a save wait past its caller's deadline.
    async def silent(host: str, port: int) -> list[str]:
        await asyncio.Event().wait()
        return []

    started = time.monotonic()
    with pytest.raises(UnsafeUrl, match=r"could not be resolved in 0\.2 s"):
        await check_url("https://slow.example/hook", timeout_s=0.2, resolve=silent)
    assert time.monotonic() - started < 1.0


async def test_the_resolver_the_client_connects_through_refuses_blocked_addresses() -> None:
    with pytest.raises(BlockedAddress):
        await guarded_resolver()("localhost", 80)
    assert "127.0.0.1" in await guarded_resolver(LOOPBACK)("localhost", 80)
    with pytest.raises(OSError):
        await guarded_resolver()("no-such-host.invalid", 80)


def test_backoff_follows_the_ladder_with_bounded_jitter_then_gives_up() -> None:
    ladder = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 50400.0, 72000.0, 86400.0)
    rng = random.Random(7)
    for step, base in enumerate(ladder):
        delays = [backoff_s(step, ladder, rng=rng) for _ in range(200)]
        assert all(d is not None and 0.8 * base <= d <= 1.2 * base for d in delays)
        assert len(set(delays)) > 100  # jittered, not one fixed value
    assert backoff_s(len(ladder), ladder) is None
    assert sum(ladder) >= 24 * 3600


def test_a_longer_retry_after_wins_but_is_capped_at_a_day() -> None:
    ladder = (5.0,)
    assert backoff_s(0, ladder, retry_after_s=120.0) == 120.0
    delay = backoff_s(0, ladder, retry_after_s=1.0)
    assert delay is not None and delay >= 4.0
    assert backoff_s(0, ladder, retry_after_s=10**9) == 86400.0


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_s("30") == 30.0
    later = datetime.now(UTC) + timedelta(seconds=100)
    parsed = retry_after_s(format_datetime(later, usegmt=True))
    assert parsed is not None and 95 <= parsed <= 101
    assert retry_after_s("soon") is None
    assert retry_after_s(None) is None


def _outcome(result: Result, code: int | None = None, after: float | None = None) -> Outcome:
    return Outcome(result, datetime(2026, 1, 1, tzinfo=UTC), 12, code, None, after)


def test_outcomes_decide_the_delivery() -> None:
    ladder = (0.3, 0.6)
    assert decide(_outcome(Result.SUCCEEDED, 200), 1, ladder).status == SUCCEEDED
    gone = decide(_outcome(Result.GONE, 410), 0, ladder)
    assert (gone.status, gone.disable_endpoint) == (FAILED, True)
    assert decide(_outcome(Result.REFUSED), 0, ladder).status == FAILED
    retry = decide(_outcome(Result.RETRY, 500), 0, ladder)
    assert (retry.status, retry.retries) == (PENDING, 1)
    assert retry.next_attempt_at is not None
    wait = (retry.next_attempt_at - datetime(2026, 1, 1, tzinfo=UTC)).total_seconds()
    assert 0.24 <= wait <= 0.36
    assert decide(_outcome(Result.RETRY, 500), 2, ladder).status == FAILED
    slow = decide(_outcome(Result.RETRY, 429, after=60.0), 0, ladder)
    assert slow.next_attempt_at == datetime(2026, 1, 1, 0, 1, tzinfo=UTC)


def test_two_secrets_give_two_signatures_each_verifiable_alone() -> None:
    old, new = new_secret(), new_secret()
    body = b'{"type":"message.sent","timestamp":"2026-01-01T00:00:00.000Z","data":{}}'
    now = int(datetime.now(UTC).timestamp())
    header = sign_all([new, old], "evt_1", now, body)
    assert len(header.split(" ")) == 2 and all(s.startswith("v1,") for s in header.split(" "))
    headers = {"webhook-id": "evt_1", "webhook-timestamp": str(now), "webhook-signature": header}
    Webhook(new).verify(body, headers)
    Webhook(old).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)


def test_previous_secret_signs_only_until_it_expires() -> None:
    now = datetime.now(UTC)
    ep = endpoints.Endpoint(
        "whk_1", "ten_1", "https://example.com", "", ("*",), "whsec_new", "whsec_old",
        now + timedelta(hours=1), False, None, now, now,
    )  # fmt: skip
    assert ep.signing_secrets(now) == ["whsec_new", "whsec_old"]
    assert ep.signing_secrets(now + timedelta(hours=2)) == ["whsec_new"]


@pytest.mark.parametrize(
    ("patterns", "event_type", "wanted"),
    [
        (["*"], "message.delivered", True),
        (["message.*"], "message.failed", True),
        (["message.delivered"], "message.delivered", True),
        (["message.delivered"], "message.sent", False),
        (["message.sent", "message.failed"], "message.failed", True),
    ],
)
def test_event_type_filters(patterns: list[str], event_type: str, wanted: bool) -> None:
    assert catalog.matches(patterns, event_type) is wanted


def test_endpoints_may_subscribe_to_the_catalogues_types_and_their_wildcards() -> None:
    assert {"message.sent", "message.delivered", "message.failed"} <= catalog.event_types()
    given = ["message.sent", "*", "message.*", "message.boom", "call.*"]
    assert endpoints.invalid_event_types(given) == ["message.boom", "call.*"]


async def test_a_url_the_client_cannot_use_is_refused_not_raised() -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 24).decode()
    async with HttpClient() as client:
        sender = WebhookSender(client, 1.0)
        outcome = await sender.post("http://exa mple.com/hook", "evt_1", [secret], b"{}")
    assert outcome.result is Result.REFUSED
    assert outcome.error is not None and outcome.error.startswith("url ")
