import pytest

from libs.text import text_problem, url_problem


@pytest.mark.parametrize("value", ["", "hello", "emoji 👍 and ü", "tab\tand\nnewline"])
def test_text_any_hop_can_carry_has_no_problem(value: str) -> None:
    assert text_problem(value) is None


def test_a_nul_is_named_with_its_position() -> None:
    assert text_problem("ab\x00c") == (
        "contains a NUL character (U+0000) at position 2, which text cannot hold"
    )


@pytest.mark.parametrize("value", ["\ud800", "x\udfff", "\ud83d"])
def test_a_lone_surrogate_is_a_problem(value: str) -> None:
    problem = text_problem(value)
    assert problem is not None and "lone surrogate" in problem


@pytest.mark.parametrize(
    "url", ["https://example.com/status?x=1", "http://127.0.0.1:8080/a%20b", "https://ü.example/"]
)
def test_absolute_http_urls_are_fine(url: str) -> None:
    assert url_problem(url, 2048) is None


@pytest.mark.parametrize(
    "url, says",
    [
        ("https://example.com/a b", "U+0020 at position 21"),
        ("https://example.com/\r\nX-Injected: 1", "U+000D"),
        ("https://example.com/\t", "U+0009"),
        ("https://example.com/\x00", "U+0000"),
        ("https://example.com:99999/", "is not a valid URL"),
        ("ftp://example.com/", "absolute http"),
        ("/relative", "absolute http"),
        ("https://" + "a" * 3000, "at most 2048"),
    ],
)
def test_urls_no_request_line_can_carry_are_refused(url: str, says: str) -> None:
    problem = url_problem(url, 2048)
    assert problem is not None and says in problem
