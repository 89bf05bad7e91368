"""Settings of one SMPP bind.

Load with ``libs.config.load(SmppBindConfig, "OMNIGATE_SMPP_")``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SmppBindConfig:
    """One ESME bind to one SMSC account.

    ``rate_per_s`` is the SMSC's contracted rate for this bind (0 = unlimited);
    pacing to it locally is cheaper than being answered ESME_RTHROTTLED.
    ``reconnect_wait_s`` bounds how long ``submit`` waits for a bind while the
    connection is down, so a short SMSC restart does not fail messages.
    """

    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    window: int = 100
    rate_per_s: float = 0.0
    enquire_link_interval_s: float = 30.0
    response_timeout_s: float = 10.0
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    reconnect_wait_s: float = 30.0
    throttle_pause_s: float = 1.0
    throttle_max_retries: int = 20

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("host must not be empty")
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1..65535, got {self.port}")
        # The spec caps these C-octet strings (section 4.1.1, incl. the NUL).
        if not 0 < len(self.system_id) <= 15:
            raise ValueError(f"system_id must be 1..15 characters, got {len(self.system_id)}")
        if len(self.password) > 8:
            raise ValueError(f"password must be at most 8 characters, got {len(self.password)}")
        if len(self.system_type) > 12:
            raise ValueError("system_type must be at most 12 characters")
        if not 1 <= self.window <= 10_000:
            raise ValueError(f"window must be 1..10000, got {self.window}")
        if self.rate_per_s < 0:
            raise ValueError(f"rate_per_s must be >= 0 (0 = unlimited), got {self.rate_per_s}")
        for name in (
            "enquire_link_interval_s",
            "response_timeout_s",
            "reconnect_initial_s",
            "reconnect_max_s",
            "throttle_pause_s",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.reconnect_wait_s < 0:
            raise ValueError(f"reconnect_wait_s must be >= 0, got {self.reconnect_wait_s}")
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("reconnect_max_s must be >= reconnect_initial_s")
        if self.throttle_max_retries < 0:
            raise ValueError("throttle_max_retries must be >= 0")
