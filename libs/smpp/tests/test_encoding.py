from __future__ import annotations

import random

import pytest

from libs.smpp.encoding import (
    DATA_CODING_GSM7,
    DATA_CODING_UCS2,
    Concatenation,
    Encoding,
    InvalidShortMessage,
    SegmentCount,
    count_segments,
    decode_short_message,
    detect_encoding,
    encode_segments,
)

GSM_DEFAULT = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "\f^{}\\[~]|€"
EMOJI = "\U0001f600"  # one character, two UTF-16 code units


def _reassemble(body: str, reference: int = 42) -> str:
    msg = encode_segments(body, reference)
    texts = []
    for seq, part in enumerate(msg.parts, 1):
        decoded = decode_short_message(msg.data_coding, part, msg.esm_class_udhi)
        if msg.esm_class_udhi:
            assert decoded.concatenation == Concatenation(reference, len(msg.parts), seq)
        else:
            assert decoded.concatenation is None
        texts.append(decoded.text)
    return "".join(texts)


def _text_units(part: bytes, udhi: bool, encoding: Encoding) -> int:
    payload = part[6:] if udhi else part
    return len(payload) if encoding is Encoding.GSM7 else len(payload) // 2


# --- detection ---------------------------------------------------------------


def test_default_alphabet_has_128_minus_escape_characters_all_gsm7() -> None:
    assert len(GSM_DEFAULT) == 127
    assert detect_encoding(GSM_DEFAULT) is Encoding.GSM7


@pytest.mark.parametrize("ch", list(GSM_EXTENSION))
def test_extension_table_characters_are_gsm7(ch: str) -> None:
    assert detect_encoding(f"a{ch}b") is Encoding.GSM7


@pytest.mark.parametrize(
    "body",
    [
        EMOJI,
        "Привет",
        "你好",
        "ç",  # only capital Ç is in the GSM table
        "\u201csmart quotes\u201d",  # never transliterated to '"'
        "tab\there",
        "\x1b",  # the escape itself is not a character
        "`",
    ],
)
def test_non_gsm_characters_force_ucs2(body: str) -> None:
    assert detect_encoding(body) is Encoding.UCS2


def test_emoji_body_is_ucs2_and_counts_utf16_units() -> None:
    count = count_segments(f"hi {EMOJI}")
    assert count.encoding is Encoding.UCS2
    assert count.units == 5
    assert count.segments == 1
    assert count.units_per_segment == 70


# --- counting ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "encoding", "segments", "units", "per_segment"),
    [
        ("", Encoding.GSM7, 1, 0, 160),
        ("a" * 160, Encoding.GSM7, 1, 160, 160),
        ("a" * 161, Encoding.GSM7, 2, 161, 153),
        ("a" * 153 * 2, Encoding.GSM7, 2, 306, 153),
        ("a" * (153 * 2 + 1), Encoding.GSM7, 3, 307, 153),
        ("a" * 300, Encoding.GSM7, 2, 300, 153),
        ("я" * 70, Encoding.UCS2, 1, 70, 70),
        ("я" * 71, Encoding.UCS2, 2, 71, 67),
        ("я" * 67 * 2, Encoding.UCS2, 2, 134, 67),
        ("я" * (67 * 2 + 1), Encoding.UCS2, 3, 135, 67),
        (EMOJI * 35, Encoding.UCS2, 1, 70, 70),
        (EMOJI * 36, Encoding.UCS2, 2, 72, 67),
    ],
)
def test_segment_boundaries(
    body: str, encoding: Encoding, segments: int, units: int, per_segment: int
) -> None:
    assert count_segments(body) == SegmentCount(encoding, segments, units, per_segment)


def test_300_char_gsm7_body_is_two_concatenated_segments() -> None:
    msg = encode_segments("x" * 300, reference=7)
    assert msg.encoding is Encoding.GSM7
    assert msg.data_coding == DATA_CODING_GSM7
    assert msg.esm_class_udhi
    assert len(msg.parts) == 2
    assert msg.parts[0] == bytes([5, 0, 3, 7, 2, 1]) + b"x" * 153
    assert msg.parts[1] == bytes([5, 0, 3, 7, 2, 2]) + b"x" * 147


def test_extension_chars_count_double() -> None:
    count = count_segments("€" * 80)
    assert count.encoding is Encoding.GSM7
    assert count.units == 160
    assert count.segments == 1
    count = count_segments("€" * 80 + "a")
    assert count.units == 161
    assert count.segments == 2


def test_extension_escape_never_split_across_segments() -> None:
    # 152 plain septets then '€' puts the escape on septet 153, the last slot
    # of part one; the pair must move to part two whole.
    body = "a" * 152 + "€" + "b" * 10
    count = count_segments(body)
    assert count.units == 164
    assert count.segments == 2
    msg = encode_segments(body, 1)
    first, second = msg.parts
    assert first[6:] == b"a" * 152
    assert second[6:] == b"\x1b\x65" + b"b" * 10
    assert _reassemble(body) == body


def test_escape_shift_can_add_a_segment() -> None:
    # 306 septets fits exactly in two parts of 153 only if no pair straddles;
    # here one does, so a third part is needed.
    body = "a" * 152 + "€" + "a" * 152
    assert len(body) + 1 == 306
    assert count_segments(body).segments == 3
    assert len(encode_segments(body, 0).parts) == 3


def test_surrogate_pair_never_split() -> None:
    body = "я" * 66 + EMOJI + "я" * 10
    count = count_segments(body)
    assert count.encoding is Encoding.UCS2
    assert count.units == 78
    assert count.segments == 2
    msg = encode_segments(body, 9)
    first, second = msg.parts
    assert len(first[6:]) == 66 * 2  # the pair moved to part two: 66 units carried
    assert second[6:10] == EMOJI.encode("utf-16-be")
    assert _reassemble(body) == body


def test_emoji_only_body_splits_on_pair_boundaries() -> None:
    body = EMOJI * 100
    msg = encode_segments(body, 3)
    assert count_segments(body).segments == len(msg.parts) == 4
    for part in msg.parts:
        assert len(part[6:]) == 66 * 2 or part is msg.parts[-1]
    assert _reassemble(body) == body


# --- encoding ----------------------------------------------------------------


def test_single_part_gsm7_has_no_udh_and_is_unpacked() -> None:
    msg = encode_segments("Hello @ £1 {ok}", reference=200)
    assert msg.esm_class_udhi is False
    assert msg.parts == [b"Hello \x00 \x011 \x1b\x28ok\x1b\x29"]


def test_single_part_ucs2_is_big_endian_without_udh() -> None:
    msg = encode_segments("Привет", reference=0)
    assert msg.data_coding == DATA_CODING_UCS2
    assert msg.esm_class_udhi is False
    assert msg.parts == ["Привет".encode("utf-16-be")]


def test_every_gsm_character_encodes_to_its_table_position() -> None:
    msg = encode_segments(GSM_DEFAULT[:100], 0)
    assert msg.parts[0] == bytes(i for i in range(101) if i != 0x1B)


@pytest.mark.parametrize("reference", [-1, 256])
def test_reference_must_fit_one_octet(reference: int) -> None:
    with pytest.raises(ValueError, match="0-255"):
        encode_segments("hi", reference)


def test_more_than_255_parts_is_refused() -> None:
    with pytest.raises(ValueError, match="255"):
        encode_segments("a" * (153 * 255 + 1), 0)
    assert len(encode_segments("a" * (153 * 255), 0).parts) == 255


_RNG = random.Random(20240601)
_ALPHABETS = {
    "gsm_default": GSM_DEFAULT,
    "gsm_with_ext": GSM_DEFAULT + GSM_EXTENSION * 8,
    "ext_heavy": GSM_EXTENSION + "ab",
    "cyrillic": "абвгдеёжзийклмнопрстуфхцчшщъыьэюя ",
    "emoji_mix": "ab " + EMOJI + "\U0001f44d\U0001f3fd" + "é€",
    "emoji_only": EMOJI + "\U0001f680",
}
_RANDOM_BODIES = [
    pytest.param("".join(_RNG.choice(chars) for _ in range(length)), id=f"{name}-{length}")
    for name, chars in _ALPHABETS.items()
    for length in (1, 69, 70, 71, 133, 134, 135, 152, 153, 159, 160, 161, 306, 307, 500, 1200)
]


@pytest.mark.parametrize("body", _RANDOM_BODIES)
def test_round_trip_reassembles_body_and_agrees_with_count(body: str) -> None:
    count = count_segments(body)
    msg = encode_segments(body, 99)
    assert msg.encoding is count.encoding
    assert len(msg.parts) == count.segments
    assert msg.esm_class_udhi is (count.segments > 1)
    units = sum(_text_units(p, msg.esm_class_udhi, msg.encoding) for p in msg.parts)
    assert units == count.units
    limit = count.units_per_segment
    for part in msg.parts:
        assert _text_units(part, msg.esm_class_udhi, msg.encoding) <= limit
    assert _reassemble(body, 99) == body


# --- decoding ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data_coding", "payload", "text"),
    [
        (0x00, b"Hello \x00\x01\x1b\x65", "Hello @£€"),
        (0x01, b"\x00\x1b\x3c\x1b\x3e", "@[]"),
        (0x03, "café".encode("latin-1"), "café"),
        (0x08, "Привет ".encode("utf-16-be") + EMOJI.encode("utf-16-be"), "Привет " + EMOJI),
        (0x04, b"\xe9", "é"),  # unknown/binary codings fall back to latin-1
        (0x02, b"abc", "abc"),
        (0x18, "日本".encode("utf-16-be"), "日本"),  # DCS general group, UCS-2, class 0
        (0x10, b"\x00", "@"),  # DCS general group, GSM-7 with class
        (0xF0, b"\x00", "@"),  # DCS class group, GSM-7
        (0xF4, b"\xe9", "é"),  # DCS class group, 8-bit
        (0xE0, "ü".encode("utf-16-be"), "ü"),  # message waiting, UCS-2
        (0x00, b"\x1b", " "),  # lone trailing escape shows as a space
        (0x00, b"a\x1b\x1bb", "a b"),  # ESC ESC is reserved: a space
        (0x00, b"\x1b\x41", "A"),  # unknown extension code: default character
        (0x00, b"\x80", "\ufffd"),  # not a septet
        (0x08, b"\x00A\x00", "A\ufffd"),  # odd octet
    ],
)
def test_decode_by_data_coding(data_coding: int, payload: bytes, text: str) -> None:
    assert decode_short_message(data_coding, payload, udhi=False).text == text


def test_decode_strips_8bit_concatenation_udh() -> None:
    part = decode_short_message(0x00, bytes([5, 0, 3, 0xAB, 3, 2]) + b"hi", udhi=True)
    assert part.text == "hi"
    assert part.concatenation == Concatenation(0xAB, 3, 2)


def test_decode_strips_16bit_concatenation_udh() -> None:
    payload = bytes([6, 8, 4, 0x12, 0x34, 2, 1]) + "я".encode("utf-16-be")
    part = decode_short_message(0x08, payload, udhi=True)
    assert part.text == "я"
    assert part.concatenation == Concatenation(0x1234, 2, 1)


def test_decode_skips_other_information_elements() -> None:
    # A port-addressing IE (0x05) before the concatenation IE.
    udh = bytes([0x05, 4, 0x0B, 0x84, 0x23, 0xF0, 0x00, 3, 1, 2, 2])
    part = decode_short_message(0x00, bytes([len(udh)]) + udh + b"x", udhi=True)
    assert part.text == "x"
    assert part.concatenation == Concatenation(1, 2, 2)


def test_udh_without_concatenation_is_stripped() -> None:
    part = decode_short_message(0x00, bytes([3, 0x24, 1, 1]) + b"ok", udhi=True)
    assert part.text == "ok"
    assert part.concatenation is None


@pytest.mark.parametrize(("total", "seq"), [(0, 0), (2, 0), (2, 3)])
def test_nonsense_concatenation_values_are_ignored(total: int, seq: int) -> None:
    part = decode_short_message(0x00, bytes([5, 0, 3, 1, total, seq]) + b"x", udhi=True)
    assert part.concatenation is None
    assert part.text == "x"


def test_udh_bytes_are_text_when_udhi_not_set() -> None:
    part = decode_short_message(0x03, b"\x05\x00\x03\x01\x02\x01x", udhi=False)
    assert part.concatenation is None
    assert part.text.endswith("x")


@pytest.mark.parametrize(
    "payload",
    [b"", bytes([5, 0, 3, 1]), bytes([4, 0, 3, 1, 2])],
    ids=["empty", "udhl-overruns", "ie-truncated"],
)
def test_malformed_udh_is_rejected(payload: bytes) -> None:
    with pytest.raises(InvalidShortMessage):
        decode_short_message(0x00, payload, udhi=True)


@pytest.mark.parametrize("lone", ["\ud83d", "\ude00"])
def test_lone_surrogate_does_not_crash_and_count_agrees(lone: str) -> None:
    body = "я" * 66 + lone + "я" * 10
    msg = encode_segments(body, 0)
    assert count_segments(body).segments == len(msg.parts) == 2
    assert len(msg.parts[0]) == 6 + 67 * 2
