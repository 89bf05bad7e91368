"""The logger of the SMPP layer, so operators can tune it by one name."""

from __future__ import annotations

import logging

logger = logging.getLogger("omnigate.smpp")
