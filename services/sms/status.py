"""The message state machine: transitions only move forward.

Each status has a rank; a transition is applied only to a higher rank, so a
late or duplicated carrier report (a ``sent`` after ``delivered``, a second
receipt) changes nothing. Final statuses have the highest rank and never
change again.
"""

from __future__ import annotations

from libs.api.sms.v1 import sms_pb2

S = sms_pb2.MessageStatus

ACCEPTED = S.MESSAGE_STATUS_ACCEPTED
SCHEDULED = S.MESSAGE_STATUS_SCHEDULED
QUEUED = S.MESSAGE_STATUS_QUEUED
SENDING = S.MESSAGE_STATUS_SENDING
SENT = S.MESSAGE_STATUS_SENT
DELIVERED = S.MESSAGE_STATUS_DELIVERED
UNDELIVERED = S.MESSAGE_STATUS_UNDELIVERED
FAILED = S.MESSAGE_STATUS_FAILED
CANCELED = S.MESSAGE_STATUS_CANCELED
PARTIALLY_DELIVERED = S.MESSAGE_STATUS_PARTIALLY_DELIVERED
RECEIVED = S.MESSAGE_STATUS_RECEIVED

_RANK: dict[int, int] = {
    ACCEPTED: 0,
    SCHEDULED: 0,
    QUEUED: 1,
    SENDING: 2,
    SENT: 3,
    DELIVERED: 4,
    UNDELIVERED: 4,
    FAILED: 4,
    CANCELED: 4,
    PARTIALLY_DELIVERED: 4,
    RECEIVED: 4,
}
FINAL = frozenset(s for s, r in _RANK.items() if r == 4)

# Wire names, as tenants see them (Twilio's), and as the last part of routing keys.
NAMES: dict[int, str] = {
    ACCEPTED: "accepted",
    SCHEDULED: "scheduled",
    QUEUED: "queued",
    SENDING: "sending",
    SENT: "sent",
    DELIVERED: "delivered",
    UNDELIVERED: "undelivered",
    FAILED: "failed",
    CANCELED: "canceled",
    PARTIALLY_DELIVERED: "partially_delivered",
    RECEIVED: "received",
}


def can_transition(current: int, new: int) -> bool:
    return _RANK[new] > _RANK[current]


def rank(status: int) -> int:
    """How far along ``status`` is (0 for a number that is no status)."""
    return _RANK.get(status, 0)


def aggregate_segments(outcomes: list[int]) -> int:
    """A message's final status from its segments' final statuses.

    All delivered -> delivered; some delivered -> partially_delivered; none:
    failed if every segment failed, else undelivered.
    """
    if not outcomes:
        raise ValueError("no segment outcomes")
    delivered = sum(1 for o in outcomes if o == DELIVERED)
    if delivered == len(outcomes):
        return DELIVERED
    if delivered:
        return PARTIALLY_DELIVERED
    if all(o == FAILED for o in outcomes):
        return FAILED
    return UNDELIVERED


# SMPP receipt "stat" -> the segment's final status. ENROUTE/ACCEPTD are not final.
RECEIPT_STAT: dict[str, int] = {
    "DELIVRD": DELIVERED,
    "UNDELIV": UNDELIVERED,
    "EXPIRED": UNDELIVERED,
    "DELETED": UNDELIVERED,
    "REJECTD": FAILED,
    "UNKNOWN": UNDELIVERED,
}
