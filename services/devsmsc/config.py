"""Settings of the development SMSC.

Load with ``libs.config.load(DevSmscConfig, "OMNIGATE_DEVSMSC_")``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DevSmscConfig:
    """``port=0`` binds any free port (tests read ``DevSmsc.port``).

    ``control_port``: 0 turns the HTTP control API off; -1 binds any free port
    (0 cannot mean both, and "off" is the safer reading of an unset-looking 0).
    """

    host: str = "127.0.0.1"
    port: int = 2775
    system_id: str = "omnigate"
    password: str = "secret"
    receipt_delay_s: float = 1.0
    slow_receipt_delay_s: float = 30.0
    rate_per_s: float = 0.0
    control_port: int = 8775
    redeliver_delay_s: float = 1.0

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("host must not be empty")
        if not 0 <= self.port < 65536:
            raise ValueError(f"port must be 0..65535, got {self.port}")
        if not -1 <= self.control_port < 65536:
            raise ValueError(f"control_port must be -1..65535, got {self.control_port}")
        if not self.system_id:
            raise ValueError("system_id must not be empty")
        for name in ("receipt_delay_s", "slow_receipt_delay_s", "rate_per_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.redeliver_delay_s <= 0:
            raise ValueError(f"redeliver_delay_s must be > 0, got {self.redeliver_delay_s}")
