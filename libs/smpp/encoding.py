"""SMS character encoding and segmentation (GSM 03.38 / 3GPP TS 23.038, TS 23.040).

This runs once per message on the send path and once per deliver_sm on the
receive path, so every table is built at import time and the per-message work
is done with C-level ``str``/``bytes`` operations (``frozenset.issuperset``,
``str.translate``, ``bytes.find``) rather than Python loops over characters.

Outbound GSM-7 is emitted *unpacked* (data_coding 0x00, one septet per octet);
the SMSC packs it for the air interface. The segment limits below are the
air-interface limits (140 octets of user data), which is what the SMSC will
enforce after packing:

* GSM-7: 160 septets in one message; 153 per part of a concatenated message
  (the 6-octet UDH plus one fill bit occupies 7 septets).
* UCS-2: 70 UTF-16 code units in one message; 67 per part (134 octets + UDH).

Characters are never transliterated (no "smart quote" -> '"'): a body that
leaves the GSM alphabet is sent as UCS-2 so the recipient sees exactly what
was submitted, at the price of more segments.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from libs.smpp.gsm7 import BASIC_ALPHABET, ESCAPE, EXTENSION

__all__ = [
    "DATA_CODING_GSM7",
    "DATA_CODING_UCS2",
    "MAX_SEGMENTS",
    "Concatenation",
    "DecodedPart",
    "EncodedMessage",
    "Encoding",
    "InvalidShortMessage",
    "SegmentCount",
    "count_segments",
    "decode_short_message",
    "detect_encoding",
    "encode_segments",
]


class Encoding(enum.Enum):
    GSM7 = "GSM7"
    UCS2 = "UCS2"


DATA_CODING_GSM7 = 0x00
DATA_CODING_UCS2 = 0x08

# The concatenation UDH carries total and sequence in one octet each.
MAX_SEGMENTS = 255

GSM7_SINGLE = 160
GSM7_MULTI = 153
UCS2_SINGLE = 70
UCS2_MULTI = 67

# The GSM 03.38 default alphabet and its extension table (each extension
# character costs two septets: ESC + code) come from the SMPP library.

# Encode table for str.translate: code point -> the unpacked octets, held as a
# latin-1 str so that ``body.translate(t).encode("latin-1")`` is the payload.
_GSM_ENCODE: dict[int, str] = {
    ord(ch): chr(code) for code, ch in enumerate(BASIC_ALPHABET) if code != ESCAPE
}
_GSM_ENCODE.update({ord(ch): chr(ESCAPE) + chr(code) for ch, code in EXTENSION.items()})

_GSM_CHARS = frozenset(chr(cp) for cp in _GSM_ENCODE)

# Decode tables indexed by octet (0-255) for str.translate over a latin-1 view of
# the payload. Octets >= 0x80 cannot occur in unpacked GSM-7, so they map to
# U+FFFD rather than guessing at a charset.
_REPLACEMENT = "\ufffd"
_GSM_DECODE: list[str] = [BASIC_ALPHABET[i] if i < 0x80 else _REPLACEMENT for i in range(256)]
# TS 23.038: an ESC not followed by a known extension code is shown as a space
# (ESC ESC is reserved for a future table), and an unknown extension code as
# its default-alphabet character.
_GSM_DECODE[ESCAPE] = " "
_GSM_EXT_DECODE: dict[int, str] = {code: ch for ch, code in EXTENSION.items()}


@dataclass(frozen=True, slots=True)
class SegmentCount:
    """How a body will be billed and sent.

    ``units`` are septets for GSM-7 (extension characters count two) and UTF-16
    code units for UCS-2 (characters outside the BMP count two).
    ``units_per_segment`` is the nominal capacity (160/153 or 70/67); a part
    may carry one unit fewer when an escape sequence or surrogate pair would
    otherwise straddle the boundary.
    """

    encoding: Encoding
    segments: int
    units: int
    units_per_segment: int


@dataclass(frozen=True, slots=True)
class EncodedMessage:
    """The short_message octets of each submit_sm, in sending order."""

    encoding: Encoding
    data_coding: int
    esm_class_udhi: bool
    parts: list[bytes]


@dataclass(frozen=True, slots=True)
class Concatenation:
    """The concatenation information element of one received part."""

    reference: int
    total: int
    sequence: int


@dataclass(frozen=True, slots=True)
class DecodedPart:
    text: str
    concatenation: Concatenation | None = None


class InvalidShortMessage(ValueError):
    """An inbound payload whose UDH does not fit the payload."""


def detect_encoding(body: str) -> Encoding:
    """GSM-7 if every character is in the default or extension table, else UCS-2."""
    return Encoding.GSM7 if _GSM_CHARS.issuperset(body) else Encoding.UCS2


def _encode_gsm7(body: str) -> bytes:
    return body.translate(_GSM_ENCODE).encode("latin-1")


def _encode_ucs2(body: str) -> bytes:
    # surrogatepass: a lone surrogate (which a JSON body can smuggle in) is a
    # caller's problem to reject, not a reason to crash the worker here.
    return body.encode("utf-16-be", "surrogatepass")


def _gsm7_boundaries(payload: bytes) -> list[int]:
    """End offsets of each part of a multi-part GSM-7 payload.

    Every 0x1B in an unpacked payload is an escape prefix: no character encodes
    to a bare 0x1B and no extension code is 0x1B. So if a part would end on
    0x1B, ending it one octet earlier keeps the pair together.
    """
    ends: list[int] = []
    start, n = 0, len(payload)
    while start < n:
        end = start + GSM7_MULTI
        if end >= n:
            end = n
        elif payload[end - 1] == ESCAPE:
            end -= 1
        ends.append(end)
        start = end
    return ends


def _ucs2_boundaries(payload: bytes) -> list[int]:
    """End offsets (in octets) of each part of a multi-part UCS-2 payload.

    A part that would end between the two halves of a surrogate pair ends one
    code unit earlier so the emoji stays in one part and renders on the handset.
    """
    ends: list[int] = []
    start, n = 0, len(payload)
    step = UCS2_MULTI * 2
    while start < n:
        end = start + step
        if end >= n:
            end = n
        elif 0xD8 <= payload[end - 2] <= 0xDB and 0xDC <= payload[end] <= 0xDF:
            end -= 2
        ends.append(end)
        start = end
    return ends


def _fast_gsm7_segments(septets: int) -> int:
    return -(-septets // GSM7_MULTI)


def count_segments(body: str) -> SegmentCount:
    """Segments needed to send ``body``; agrees exactly with ``encode_segments``.

    An empty body counts as one segment of zero units (an empty submit_sm is
    still one message). The API rejects empty bodies before this is reached;
    the value is defined only so that this function is total.
    """
    if _GSM_CHARS.issuperset(body):
        ext = sum(body.count(ch) for ch in EXTENSION)
        septets = len(body) + ext
        if septets <= GSM7_SINGLE:
            return SegmentCount(Encoding.GSM7, 1, septets, GSM7_SINGLE)
        if ext:
            segments = len(_gsm7_boundaries(_encode_gsm7(body)))
        else:
            segments = _fast_gsm7_segments(septets)
        return SegmentCount(Encoding.GSM7, segments, septets, GSM7_MULTI)
    payload = _encode_ucs2(body)
    units = len(payload) // 2
    if units <= UCS2_SINGLE:
        return SegmentCount(Encoding.UCS2, 1, units, UCS2_SINGLE)
    # No arithmetic shortcut here: a lone surrogate (see _encode_ucs2) would make
    # "no astral characters" checks disagree with the split; the walk is a few
    # steps per message anyway.
    segments = len(_ucs2_boundaries(payload))
    return SegmentCount(Encoding.UCS2, segments, units, UCS2_MULTI)


def encode_segments(body: str, reference: int) -> EncodedMessage:
    """The short_message octets of each submit_sm for ``body``.

    ``reference`` (0-255) is the concatenation reference shared by all parts; the
    caller should vary it per destination so a handset does not merge two
    messages. Raises ``ValueError`` if the reference is out of range or the
    body needs more than 255 parts (the UDH cannot number them).
    """
    if not 0 <= reference <= 0xFF:
        raise ValueError(f"concatenation reference must be 0-255, got {reference}")
    if _GSM_CHARS.issuperset(body):
        encoding, data_coding = Encoding.GSM7, DATA_CODING_GSM7
        payload = _encode_gsm7(body)
        if len(payload) <= GSM7_SINGLE:
            return EncodedMessage(encoding, data_coding, False, [payload])
        ends = _gsm7_boundaries(payload)
    else:
        encoding, data_coding = Encoding.UCS2, DATA_CODING_UCS2
        payload = _encode_ucs2(body)
        if len(payload) <= UCS2_SINGLE * 2:
            return EncodedMessage(encoding, data_coding, False, [payload])
        ends = _ucs2_boundaries(payload)
    total = len(ends)
    if total > MAX_SEGMENTS:
        raise ValueError(f"body needs {total} segments; at most {MAX_SEGMENTS} can be concatenated")
    parts: list[bytes] = []
    start = 0
    for seq, end in enumerate(ends, 1):
        parts.append(bytes((0x05, 0x00, 0x03, reference, total, seq)) + payload[start:end])
        start = end
    return EncodedMessage(encoding, data_coding, True, parts)


def _decode_gsm7(payload: bytes) -> str:
    view = payload.decode("latin-1")
    if ESCAPE not in payload:
        return view.translate(_GSM_DECODE)
    out: list[str] = []
    start = 0
    n = len(payload)
    while True:
        esc = payload.find(b"\x1b", start)
        if esc < 0:
            out.append(view[start:].translate(_GSM_DECODE))
            return "".join(out)
        out.append(view[start:esc].translate(_GSM_DECODE))
        if esc + 1 >= n or payload[esc + 1] == ESCAPE:
            out.append(" ")
            start = esc + 2
            continue
        code = payload[esc + 1]
        out.append(_GSM_EXT_DECODE.get(code) or _GSM_DECODE[code])
        start = esc + 2


def _decode_ucs2(payload: bytes) -> str:
    # Handsets send emoji as surrogate pairs even when the DCS says UCS-2, so
    # decode as UTF-16 and let a stray odd octet become U+FFFD.
    return payload.decode("utf-16-be", "replace")


def _decode_latin1(payload: bytes) -> str:
    return payload.decode("latin-1")


def _decoder_for(data_coding: int) -> str:
    """Which alphabet a data_coding value selects: 'gsm', 'ucs2' or 'latin1'.

    0x00-0x0F are SMPP's own values; above that the octet is a TS 23.038 data
    coding scheme, whose general (00xx), message-waiting (1100-1110) and
    class (1111) groups also name the alphabet.
    """
    if data_coding in (0x00, 0x01):
        return "gsm"
    if data_coding == 0x08:
        return "ucs2"
    if data_coding <= 0x0F:
        return "latin1"
    group = data_coding >> 4
    if group <= 0x3:
        if data_coding & 0x20:
            # Compressed text; nothing in the field implements TS 23.042.
            return "latin1"
        alphabet = (data_coding >> 2) & 0x3
        return {0: "gsm", 2: "ucs2"}.get(alphabet, "latin1")
    if group in (0xC, 0xD):
        return "gsm"
    if group == 0xE:
        return "ucs2"
    if group == 0xF:
        return "latin1" if data_coding & 0x04 else "gsm"
    return "latin1"


_DECODERS = {"gsm": _decode_gsm7, "ucs2": _decode_ucs2, "latin1": _decode_latin1}
_DECODER_BY_DCS = [_DECODERS[_decoder_for(dc)] for dc in range(256)]


def _parse_udh(payload: bytes) -> tuple[Concatenation | None, bytes]:
    if not payload:
        raise InvalidShortMessage("UDHI set but short_message is empty")
    udhl = payload[0]
    if 1 + udhl > len(payload):
        raise InvalidShortMessage(
            f"UDH length {udhl} exceeds the {len(payload) - 1} octets that follow it"
        )
    header, body = payload[1 : 1 + udhl], payload[1 + udhl :]
    concat: Concatenation | None = None
    i = 0
    while i + 2 <= len(header):
        iei, iel = header[i], header[i + 1]
        data = header[i + 2 : i + 2 + iel]
        if len(data) != iel:
            raise InvalidShortMessage(f"UDH element 0x{iei:02x} is truncated")
        if iei == 0x00 and iel == 3:
            concat = _concatenation(data[0], data[1], data[2])
        elif iei == 0x08 and iel == 4:
            concat = _concatenation((data[0] << 8) | data[1], data[2], data[3])
        i += 2 + iel
    return concat, body


def _concatenation(reference: int, total: int, sequence: int) -> Concatenation | None:
    # TS 23.040 9.2.3.24.1: a receiver ignores an element whose total or
    # sequence is 0 or whose sequence exceeds the total, treating the part as
    # a message on its own.
    if total == 0 or sequence == 0 or sequence > total:
        return None
    return Concatenation(reference, total, sequence)


def decode_short_message(data_coding: int, payload: bytes, udhi: bool) -> DecodedPart:
    """Text (and concatenation info) of one inbound deliver_sm/data_sm payload.

    GSM-7 is expected unpacked, as SMPP carries it. Raises
    ``InvalidShortMessage`` if ``udhi`` is set and the UDH overruns the payload.
    """
    concat: Concatenation | None = None
    if udhi:
        concat, payload = _parse_udh(payload)
    return DecodedPart(_DECODER_BY_DCS[data_coding & 0xFF](payload), concat)
