"""GSM 03.38 default alphabet, unpacked (one septet per octet) as SMPP data_coding 0 carries it.

Only the default table and its escape extension are supported: national
language shift tables are rare on SMPP links and SMSCs disagree about them.
"""

from __future__ import annotations

ESCAPE = 0x1B

# Index = septet value. 0x1B is the escape to the extension table and never a character.
BASIC_ALPHABET = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
assert len(BASIC_ALPHABET) == 128

_ENCODE: dict[str, bytes] = {ch: bytes((i,)) for i, ch in enumerate(BASIC_ALPHABET) if i != ESCAPE}
_ENCODE.update({ch: bytes((ESCAPE, code)) for ch, code in EXTENSION.items()})
_DECODE_EXT: dict[int, str] = {code: ch for ch, code in EXTENSION.items()}


def encode_gsm7(text: str) -> bytes | None:
    """``text`` as unpacked GSM 7-bit septets, or ``None`` if a character is not representable."""
    out = bytearray()
    table = _ENCODE
    for ch in text:
        code = table.get(ch)
        if code is None:
            return None
        out += code
    return bytes(out)


def is_gsm7(text: str) -> bool:
    return all(ch in _ENCODE for ch in text)


def decode_gsm7(data: bytes) -> str:
    """Inverse of ``encode_gsm7``; unknown escapes decode as a space, as 03.38 recommends."""
    out: list[str] = []
    escaped = False
    for septet in data:
        septet &= 0x7F
        if escaped:
            out.append(_DECODE_EXT.get(septet, " "))
            escaped = False
        elif septet == ESCAPE:
            escaped = True
        else:
            out.append(BASIC_ALPHABET[septet])
    return "".join(out)
