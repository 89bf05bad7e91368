import random

from services.devsmsc.stats import SeenSet, message_key


def test_the_newest_capacity_keys_are_always_remembered_and_older_ones_go() -> None:
    rng = random.Random(7)
    keys = [rng.getrandbits(64) or 1 for _ in range(2500)]
    seen = SeenSet(1000)
    assert not any(seen.add(k) for k in keys[:2000])
    assert all(k in seen for k in keys[:2000])  # the current generation and the old one
    for k in keys[2000:2500]:
        seen.add(k)
    assert all(k in seen for k in keys[1000:2500])
    assert not any(k in seen for k in keys[:1000])  # the generation before went
    assert seen.add(keys[2400])


def test_clear_forgets_everything() -> None:
    seen = SeenSet(10)
    seen.add(5)
    seen.clear()
    assert 5 not in seen and not seen.add(5)


def test_the_same_submit_has_the_same_key_and_any_change_another() -> None:
    key = message_key("+447700900100", "447700900000", b"hello", 0, 0)
    assert key == message_key("+447700900100", "447700900000", b"hello", 0, 0)
    assert key != message_key("+447700900100", "447700900000", b"hello!", 0, 0)
    assert key != message_key("+447700900100", "447700900001", b"hello", 0, 0)
    assert key != 0
