"""What the dev SMSC counts, and the bounded memory it uses to spot duplicate submits."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields


@dataclass(slots=True)
class Counters:
    submits: int = 0  # every submit_sm PDU received
    unique_submits: int = 0  # accepted, content not seen before
    duplicate_submits: int = 0  # accepted, same content seen before
    rejected_submits: int = 0  # refused for a reason other than throttling
    throttled_submits: int = 0  # answered ESME_RTHROTTLED
    concatenated_segments: int = 0  # accepted submits carrying a UDH or sar_ TLVs
    receipts_sent: int = 0  # receipt deliver_sm written (re-sends included)
    receipts_acked: int = 0  # receipt deliver_sm answered ESME_ROK
    mo_sent: int = 0  # MO deliver_sm written (re-sends included)
    deliver_errors: int = 0  # deliver_sm answered with an error status (will be retried)
    binds: int = 0  # successful binds
    bind_failures: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def reset(self) -> None:
        for f in fields(self):
            setattr(self, f.name, 0)


def message_key(
    source_addr: str, destination_addr: str, short_message: bytes, data_coding: int, esm_class: int
) -> bytes:
    """A 16-byte digest of what makes two submits the same message."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{source_addr}\x00{destination_addr}\x00{data_coding}\x00{esm_class}\x00".encode())
    h.update(short_message)
    return h.digest()


class SeenSet:
    """Remembers at least ``capacity`` recent keys in at most twice that memory.

    Two generations: when the current one fills up it becomes the old one and
    the previous old one is dropped, so the newest ``capacity`` keys are always
    remembered without per-key timestamps or an LRU list.
    """

    __slots__ = ("_capacity", "_current", "_old")

    def __init__(self, capacity: int = 500_000) -> None:
        self._capacity = capacity
        self._current: set[bytes] = set()
        self._old: set[bytes] = set()

    def __contains__(self, key: bytes) -> bool:
        return key in self._current or key in self._old

    def add(self, key: bytes) -> bool:
        """Remember ``key``; True if it was already known."""
        if key in self._current or key in self._old:
            return True
        if len(self._current) >= self._capacity:
            self._old, self._current = self._current, set()
        self._current.add(key)
        return False

    def clear(self) -> None:
        self._current.clear()
        self._old.clear()
