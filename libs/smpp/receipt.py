"""Delivery receipts: the de-facto text format (SMPP 3.4 appendix B) and carrier ids.

A receipt arrives as a deliver_sm whose esm_class says "delivery receipt".
Its facts may be in TLVs (receipted_message_id, message_state,
network_error_code), in the short_message text, or both; TLVs are preferred
because they are typed, the text is the fallback every SMSC provides.

Carrier message ids are matched by ``normalize_carrier_id``; the rule is:

* strip surrounding whitespace and NULs, lower-case, drop leading zeros
  ("00A1F" and "a1f" are the same id; an all-zero id stays "0");
* when one side was reported in hex and the other in decimal (common: the
  submit_sm_resp id in hex, the receipt text in decimal), compare through
  ``carrier_id_candidates``, which adds the other base's reading.

Store ``normalize_carrier_id(submit_sm_resp.message_id)``; look a receipt up by
any of ``carrier_id_candidates(receipt.message_id)``.

Mapping a ``stat`` to the platform's final outcome is the SMS service's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from libs.smpp.pdu import ESM_CLASS_MESSAGE_TYPE_MASK, DeliverSm, Tag, tlv_int, tlv_str

DELIVRD = "DELIVRD"
EXPIRED = "EXPIRED"
DELETED = "DELETED"
UNDELIV = "UNDELIV"
ACCEPTD = "ACCEPTD"
UNKNOWN = "UNKNOWN"
REJECTD = "REJECTD"
ENROUTE = "ENROUTE"

# message_state TLV values (section 5.3.2.35) and their receipt-text names.
MESSAGE_STATE_TO_STAT: dict[int, str] = {
    1: ENROUTE,
    2: DELIVRD,
    3: EXPIRED,
    4: DELETED,
    5: UNDELIV,
    6: ACCEPTD,
    7: UNKNOWN,
    8: REJECTD,
}
STAT_TO_MESSAGE_STATE: dict[str, int] = {v: k for k, v in MESSAGE_STATE_TO_STAT.items()}

# Some SMSCs spell the states out; fold them into the 7-letter forms.
_STAT_ALIASES = {
    "DELIVERED": DELIVRD,
    "UNDELIVERABLE": UNDELIV,
    "UNDELIVERED": UNDELIV,
    "ACCEPTED": ACCEPTD,
    "REJECTED": REJECTD,
}

_KEY = re.compile(r"\b(id|sub|dlvrd|submit date|done date|stat|err|text)\s*:", re.IGNORECASE)
_HEX = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True, slots=True)
class Receipt:
    """One delivery receipt. ``message_id`` is as reported (normalise before matching)."""

    message_id: str
    stat: str
    err: str = ""
    submit_date: datetime | None = None
    done_date: datetime | None = None
    sub: str = ""
    dlvrd: str = ""
    text: str = ""
    # (network type, error code) from the network_error_code TLV, when present.
    network_error: tuple[int, int] | None = None


def _normalize_stat(stat: str) -> str:
    up = stat.strip().upper()
    return _STAT_ALIASES.get(up, up)


def _parse_date(value: str) -> datetime | None:
    """``YYMMDDhhmm[ss]``; years 69-99 are 19xx, as ``strptime``'s ``%y`` reads them.

    Sliced by hand: ``strptime`` took 3 % of the sms worker's time (py-spy), two per receipt.
    """
    if len(value) not in (10, 12) or not value.isascii() or not value.isdigit():
        return None
    yy = int(value[0:2])
    try:
        return datetime(
            (2000 if yy < 69 else 1900) + yy,
            int(value[2:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[8:10]),
            int(value[10:12]) if len(value) == 12 else 0,
        )
    except ValueError:
        return None  # a carrier's nonsense date must not lose the receipt


def parse_receipt_text(text: str) -> Receipt:
    """Parse ``id:... sub:... dlvrd:... submit date:... done date:... stat:... err:... text:...``.

    Keys may come in any order and case; ``text:`` runs to the end because it
    quotes the message and may contain anything. Raises ``ValueError`` when
    ``id`` or ``stat`` is missing.
    """
    fields: dict[str, str] = {}
    matches = list(_KEY.finditer(text))
    for i, m in enumerate(matches):
        key = m.group(1).lower()
        if key in fields:
            continue
        if key == "text":
            fields[key] = text[m.end() :]
            break
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        fields[key] = text[m.end() : end].strip()
    if "id" not in fields or "stat" not in fields:
        raise ValueError(f"not a delivery receipt: {text[:80]!r}")
    return Receipt(
        message_id=fields["id"],
        stat=_normalize_stat(fields["stat"]),
        err=fields.get("err", ""),
        submit_date=_parse_date(fields.get("submit date", "")),
        done_date=_parse_date(fields.get("done date", "")),
        sub=fields.get("sub", ""),
        dlvrd=fields.get("dlvrd", ""),
        text=fields.get("text", ""),
    )


def format_receipt_text(
    message_id: str,
    stat: str,
    *,
    err: str = "000",
    submit_date: datetime,
    done_date: datetime,
    sub: str = "001",
    dlvrd: str | None = None,
    text: str = "",
) -> str:
    """The appendix B text; ``dlvrd`` defaults to 001 for DELIVRD and 000 otherwise."""
    if dlvrd is None:
        dlvrd = "001" if stat == DELIVRD else "000"
    return (
        f"id:{message_id} sub:{sub} dlvrd:{dlvrd}"
        f" submit date:{submit_date:%y%m%d%H%M} done date:{done_date:%y%m%d%H%M}"
        f" stat:{stat} err:{err} text:{text[:20]}"
    )


def is_receipt(pdu: DeliverSm) -> bool:
    """Whether this deliver_sm is a receipt/notification rather than a mobile-originated SMS."""
    return bool(pdu.esm_class & ESM_CLASS_MESSAGE_TYPE_MASK) or (
        Tag.RECEIPTED_MESSAGE_ID in pdu.tlvs
    )


def receipt_from_deliver_sm(pdu: DeliverSm) -> Receipt | None:
    """The receipt carried by ``pdu``; ``None`` for an MO message or an unreadable receipt."""
    if not is_receipt(pdu):
        return None
    try:
        parsed: Receipt | None = parse_receipt_text(pdu.short_message.decode("latin-1"))
    except ValueError:
        parsed = None
    tlvs = pdu.tlvs
    tlv_id = tlv_str(tlvs, Tag.RECEIPTED_MESSAGE_ID)
    state = tlv_int(tlvs, Tag.MESSAGE_STATE)
    tlv_stat = MESSAGE_STATE_TO_STAT.get(state) if state is not None else None
    raw_nec = tlvs.get(Tag.NETWORK_ERROR_CODE)
    network_error: tuple[int, int] | None = None
    if raw_nec is not None and len(raw_nec) == 3:  # network type octet + 16-bit error code
        network_error = (raw_nec[0], int.from_bytes(raw_nec[1:3], "big"))
    message_id = tlv_id or (parsed.message_id if parsed else None)
    stat = tlv_stat or (parsed.stat if parsed else None)
    if not message_id or not stat:
        return None
    err = parsed.err if parsed and parsed.err else ""
    if not err and network_error is not None:
        err = f"{network_error[1]:03d}"
    return Receipt(
        message_id=message_id,
        stat=stat,
        err=err,
        submit_date=parsed.submit_date if parsed else None,
        done_date=parsed.done_date if parsed else None,
        sub=parsed.sub if parsed else "",
        dlvrd=parsed.dlvrd if parsed else "",
        text=parsed.text if parsed else "",
        network_error=network_error,
    )


def normalize_carrier_id(carrier_id: str) -> str:
    """The canonical form of a carrier message id (see the module docstring for the rule)."""
    return carrier_id.strip().strip("\x00").lower().lstrip("0") or "0"


def carrier_id_candidates(carrier_id: str) -> frozenset[str]:
    """Canonical forms ``carrier_id`` may have on the other side of a hex/decimal mismatch.

    Always contains ``normalize_carrier_id(carrier_id)``; adds the hex spelling
    of a decimal id and the decimal spelling of a hex id. A string of decimal
    digits is also valid hex, so both readings are included for it.
    """
    canonical = normalize_carrier_id(carrier_id)
    forms = {canonical}
    if canonical.isdigit():
        forms.add(format(int(canonical, 10), "x"))
    if _HEX.fullmatch(canonical):
        forms.add(str(int(canonical, 16)))
    return frozenset(forms)


def carrier_ids_match(a: str, b: str) -> bool:
    """Whether two reported ids name the same message, allowing a hex/decimal mismatch."""
    na, nb = normalize_carrier_id(a), normalize_carrier_id(b)
    return na == nb or nb in carrier_id_candidates(na)
