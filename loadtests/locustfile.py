"""Locust scenarios for the send-and-poll path: ``locust -f loadtests/locustfile.py``.

Point it at a running platform (``make run``) with an API key and a number
the tenant owns (``omnigate-admin assign-number ten_... +447700900100``):
``OMNIGATE_API_KEY=og_live_... OMNIGATE_FROM=+447700900100 locust -f loadtests/locustfile.py
--host http://127.0.0.1:8080``.
Weights follow real traffic: sending dominates, then polling a message's
status, then listing.
"""

from __future__ import annotations

import os
import random
import secrets

from locust import FastHttpUser, between, task

TEST_NUMBERS = ["+447700900000"] * 18 + ["+447700900001", "+447700900003"]


class Tenant(FastHttpUser):
    wait_time = between(0.01, 0.1)

    def on_start(self) -> None:
        key = os.environ.get("OMNIGATE_API_KEY", "")
        if not key:
            raise RuntimeError(
                "set OMNIGATE_API_KEY (omnigate-admin create-tenant NAME prints one)"
            )
        self.headers = {"Authorization": f"Bearer {key}"}
        self.sender = os.environ.get("OMNIGATE_FROM", "+447700900100")
        self.sent: list[str] = []

    @task(10)
    def send_message(self) -> None:
        body = {
            "to": random.choice(TEST_NUMBERS),
            "from": self.sender,
            "body": f"load test {secrets.token_hex(4)}",
        }
        with self.client.post(
            "/v1/messages",
            json=body,
            headers=self.headers,
            name="POST /v1/messages",
            catch_response=True,
        ) as r:
            if r.status_code == 201:
                self.sent.append(r.json()["id"])
                self.sent = self.sent[-100:]
            else:
                r.failure(f"{r.status_code}: {r.text[:200]}")

    @task(4)
    def poll_status(self) -> None:
        if self.sent:
            self.client.get(
                f"/v1/messages/{random.choice(self.sent)}",
                headers=self.headers,
                name="GET /v1/messages/{id}",
            )

    @task(1)
    def list_messages(self) -> None:
        self.client.get("/v1/messages?page_size=20", headers=self.headers, name="GET /v1/messages")
