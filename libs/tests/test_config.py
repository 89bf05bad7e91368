from dataclasses import dataclass

import pytest

from libs.config import ConfigError, load


@dataclass(frozen=True)
class Example:
    dsn: str
    size: int = 4
    ratio: float = 0.5
    enabled: bool = False
    delays: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError("size must be >= 1")


def test_values_are_parsed_by_field_type() -> None:
    cfg = load(
        Example,
        "X_",
        {"X_DSN": "d", "X_SIZE": "8", "X_RATIO": "0.25", "X_ENABLED": "yes", "X_DELAYS": "1,2.5"},
    )
    assert cfg == Example("d", 8, 0.25, True, (1.0, 2.5))


def test_a_missing_required_variable_is_named() -> None:
    with pytest.raises(ConfigError, match="X_DSN is required"):
        load(Example, "X_", {})


def test_a_malformed_value_is_named_not_silently_defaulted() -> None:
    with pytest.raises(ConfigError, match="X_SIZE"):
        load(Example, "X_", {"X_DSN": "d", "X_SIZE": "many"})
    with pytest.raises(ConfigError, match="X_ENABLED"):
        load(Example, "X_", {"X_DSN": "d", "X_ENABLED": "perhaps"})


def test_validation_in_post_init_is_reported_as_config_error() -> None:
    with pytest.raises(ConfigError, match="size must be >= 1"):
        load(Example, "X_", {"X_DSN": "d", "X_SIZE": "0"})


def test_defaults_given_to_load_replace_the_class_defaults_but_not_the_environment() -> None:
    assert load(Example, "X_", {}, defaults={"dsn": "d", "size": 9}) == Example("d", 9)
    assert load(Example, "X_", {"X_SIZE": "2"}, defaults={"dsn": "d", "size": 9}).size == 2


def test_a_default_for_a_field_the_class_lacks_is_refused() -> None:
    with pytest.raises(TypeError, match="sise"):
        load(Example, "X_", {"X_DSN": "d"}, defaults={"sise": 9})


def test_a_value_its_class_refuses_names_the_variable() -> None:
    @dataclass(frozen=True)
    class Pool:
        min_size: int = 1
        max_size: int = 10

        def __post_init__(self) -> None:
            if self.max_size < self.min_size:
                raise ValueError("max_size must be at least min_size")

    with pytest.raises(ConfigError, match=r"^P_MIN_SIZE, P_MAX_SIZE: max_size must"):
        load(Pool, "P_", {"P_MAX_SIZE": "0"})
