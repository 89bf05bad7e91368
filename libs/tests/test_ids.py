from libs.ids import derived_id, id_time_ms, is_id, new_id


def test_ids_made_in_a_burst_sort_in_creation_order() -> None:
    ids = [new_id("msg") for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_id_says_what_it_is_and_when_it_was_made() -> None:
    value = new_id("msg")
    assert value.startswith("msg_") and len(value) == 30
    assert is_id(value, "msg")
    assert not is_id(value, "call")
    assert not is_id("msg_short", "msg")
    assert id_time_ms(value) > 1_700_000_000_000


def test_derived_id_is_stable_per_input_and_sorts_with_its_source() -> None:
    event = new_id("evt")
    first = derived_id("dlv", event, "whk_a")
    assert first == derived_id("dlv", event, "whk_a")
    assert first != derived_id("dlv", event, "whk_b")
    assert first != derived_id("dlv", new_id("evt"), "whk_a")
    assert is_id(first, "dlv")
    assert id_time_ms(first) == id_time_ms(event)
