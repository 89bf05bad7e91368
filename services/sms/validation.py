"""Checks of a SendMessage request: every problem found is reported at once."""

from __future__ import annotations

from dataclasses import dataclass

from libs.addresses import InvalidNumber, Sender, normalize_phone, normalize_sender
from libs.api.sms.v1 import sms_pb2
from libs.errors import FieldViolation, InvalidArgument
from libs.smpp.encoding import SegmentCount, count_segments
from libs.text import text_problem, url_problem

MAX_BODY_CHARS = 1600
MAX_URL_CHARS = 2048
MAX_IDEMPOTENCY_KEY = 255


@dataclass(frozen=True, slots=True)
class ValidSend:
    recipient: str
    sender: Sender
    body: str
    segments: SegmentCount
    status_callback: str

    @property
    def sender_display(self) -> str:
        """How the sender is stored and shown: E.164 with '+', or the alphanumeric ID."""
        return self.sender.value if self.sender.is_alphanumeric else "+" + self.sender.value


def validate_send(request: sms_pb2.SendMessageRequest) -> ValidSend:
    """The request normalised, or ``InvalidArgument`` naming every bad field."""
    problems: list[FieldViolation] = []
    if not request.tenant_id:
        problems.append(FieldViolation("tenant_id", "is required"))
    recipient = ""
    try:
        recipient = normalize_phone(request.recipient)
    except InvalidNumber as exc:
        problems.append(FieldViolation("to", str(exc)))
    sender: Sender | None = None
    try:
        sender = normalize_sender(request.sender)
    except InvalidNumber as exc:
        problems.append(FieldViolation("from", str(exc)))
    body = request.body
    if not body:
        problems.append(FieldViolation("body", "must not be empty"))
    elif len(body) > MAX_BODY_CHARS:
        problems.append(
            FieldViolation("body", f"is {len(body)} characters; at most {MAX_BODY_CHARS} allowed")
        )
    elif problem := text_problem(body):
        problems.append(FieldViolation("body", problem))
    callback = request.status_callback
    if callback and (problem := url_problem(callback, MAX_URL_CHARS)):
        problems.append(FieldViolation("status_callback", problem))
    key = request.idempotency_key
    if len(key) > MAX_IDEMPOTENCY_KEY:
        problems.append(
            FieldViolation("idempotency_key", f"must be at most {MAX_IDEMPOTENCY_KEY} characters")
        )
    elif problem := text_problem(key):
        problems.append(FieldViolation("idempotency_key", problem))
    if problems:
        detail = "; ".join(f"{p.field}: {p.description}" for p in problems)
        raise InvalidArgument(detail, tuple(problems))
    assert sender is not None
    return ValidSend(recipient, sender, body, count_segments(body), callback)
