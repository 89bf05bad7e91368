"""What the dev SMSC counts, and the fixed memory it uses to spot duplicate submits."""

from __future__ import annotations

import hashlib
from array import array
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
) -> int:
    """A 64-bit fingerprint (never 0) of what makes two submits the same message."""
    h = hashlib.blake2b(digest_size=8)
    h.update(f"{source_addr}\x00{destination_addr}\x00{data_coding}\x00{esm_class}\x00".encode())
    h.update(short_message)
    return int.from_bytes(h.digest(), "big") or 1


class SeenSet:
    """Remembers at least the newest ``capacity`` fingerprints, in memory taken at start.

    Two open-addressing tables (generations) of at least twice ``capacity``
    slots each: when the current one holds ``capacity`` keys it becomes the
    old one, and the previous old one is emptied to be the current. No per-key
    objects, timestamps or LRU list, and the tables are written through when
    made, so the process's memory is flat from the start however long it
    runs: a benchmark checks that no process grows.
    """

    __slots__ = ("_capacity", "_count", "_mask", "_tables")

    def __init__(self, capacity: int = 500_000) -> None:
        slots = 1 << (2 * capacity - 1).bit_length()
        self._capacity = capacity
        self._mask = slots - 1
        # [current, old]; 0 marks an empty slot (fingerprints are never 0).
        self._tables = [array("Q", [0]) * slots, array("Q", [0]) * slots]
        self._count = 0

    def _slot(self, table: array[int], key: int) -> int:
        """Where ``key`` is in ``table``, or the empty slot where it would go."""
        mask = self._mask
        i = key & mask
        while (v := table[i]) != key and v != 0:
            i = (i + 1) & mask
        return i

    def __contains__(self, key: int) -> bool:
        return any(t[self._slot(t, key)] == key for t in self._tables)

    def add(self, key: int) -> bool:
        """Remember ``key``; True if it was already known."""
        if key in self:
            return True
        if self._count >= self._capacity:
            old = self._tables[1]
            memoryview(old).cast("B")[:] = bytes(len(old) * old.itemsize)
            self._tables = [old, self._tables[0]]
            self._count = 0
        current = self._tables[0]
        current[self._slot(current, key)] = key
        self._count += 1
        return False

    def clear(self) -> None:
        for t in self._tables:
            memoryview(t).cast("B")[:] = bytes(len(t) * t.itemsize)
        self._count = 0
