"""BusConfig from the environment, and what it refuses."""

from __future__ import annotations

import pytest

from libs.bus import BusConfig, QueueSpec, topology_names
from libs.config import ConfigError, load


def test_load_from_environment() -> None:
    config = load(
        BusConfig,
        "OMNIGATE_BUS_",
        {"OMNIGATE_BUS_PREFIX": "staging", "OMNIGATE_BUS_RETRY_DELAYS_S": "0.5, 2,10"},
    )
    assert config.prefix == "staging"
    assert config.retry_delays_s == (0.5, 2.0, 10.0)
    assert config.prefetch == 200


@pytest.mark.parametrize(
    "env",
    [
        {"OMNIGATE_BUS_URL": "http://localhost"},
        {"OMNIGATE_BUS_PREFIX": "has space"},
        {"OMNIGATE_BUS_PREFETCH": "0"},
        {"OMNIGATE_BUS_RETRY_DELAYS_S": "1,0"},
        {"OMNIGATE_BUS_DELIVERY_LIMIT": "0"},
        {"OMNIGATE_BUS_PUBLISH_TIMEOUT_S": "-1"},
    ],
)
def test_rejects_bad_settings(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load(BusConfig, "OMNIGATE_BUS_", env)


def test_names_under_the_prefix() -> None:
    config = BusConfig(prefix="p", retry_delays_s=(1.0, 5.0))
    queues, exchanges = topology_names(config, [QueueSpec("sms.send", commands=True)])
    assert queues == ["p.sms.send", "p.sms.send.retry.1", "p.sms.send.retry.2", "p.sms.send.dlq"]
    assert exchanges == ["p.events", "p.commands", "p.dlx"]
