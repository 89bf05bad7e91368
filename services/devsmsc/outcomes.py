"""What the dev SMSC does with a message, decided by its destination number.

Numbers come from the UK range Ofcom reserves for drama (+44 7700 900xxx), so
a misconfigured test can never text a real phone. The table is documented in
README.md; keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from libs.smpp import status as st
from libs.smpp.receipt import DELIVRD, EXPIRED, REJECTD, UNDELIV


@dataclass(frozen=True, slots=True)
class Outcome:
    """``submit_status`` non-zero refuses the submit; ``stat`` None means no receipt ever."""

    submit_status: int = st.ESME_ROK
    stat: str | None = DELIVRD
    err: int = 0
    slow: bool = False
    throttle_first: bool = False


DELIVERED = Outcome()

TEST_NUMBERS: dict[str, Outcome] = {
    "447700900001": Outcome(stat=UNDELIV, err=1),
    "447700900002": Outcome(submit_status=st.ESME_RINVDSTADR, stat=None),
    "447700900003": Outcome(stat=REJECTD, err=2),
    "447700900004": Outcome(stat=EXPIRED),
    "447700900005": Outcome(slow=True),
    "447700900006": Outcome(stat=None),
    "447700900007": Outcome(throttle_first=True),
}


def outcome_for(destination_addr: str) -> Outcome:
    """The scripted outcome; any number not in the table is delivered."""
    return TEST_NUMBERS.get(destination_addr.lstrip("+"), DELIVERED)
