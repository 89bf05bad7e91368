import pytest

from libs.config import ConfigError, load
from services.sms.config import WorkerConfig

PREFIX = "OMNIGATE_SMS_WORKER_"


def test_the_worker_windows_are_settings_of_their_own() -> None:
    cfg = load(
        WorkerConfig,
        PREFIX,
        {f"{PREFIX}BATCH_DELAY_S": "0.01", f"{PREFIX}RECEIPT_BATCH_DELAY_S": "0.002"},
    )
    assert (cfg.batch_delay_s, cfg.receipt_batch_delay_s) == (0.01, 0.002)


@pytest.mark.parametrize("name", ["BATCH_DELAY_S", "RECEIPT_BATCH_DELAY_S"])
def test_a_negative_window_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="batch delays"):
        load(WorkerConfig, PREFIX, {f"{PREFIX}{name}": "-0.001"})
