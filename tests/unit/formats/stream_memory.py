"""Reading a whole stream while tracemalloc watches: the proof that a codec streams in bounded
memory, whatever the size of what goes through it.

Import it as ``from stream_memory import drain_measured`` (pytest puts this directory on the
path).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Drained:
    total: int  # bytes read
    biggest: int  # the largest piece, in bytes
    peak: int  # the peak of traced memory while reading, in bytes


def drain_measured(pieces: Iterable[bytes | memoryview]) -> Drained:
    """Read ``pieces`` to the end, keeping none of them (build it lazily: a generator's work
    is measured only when it happens during the reading)."""
    total = biggest = 0
    tracemalloc.start()
    try:
        for piece in pieces:
            total += len(piece)
            biggest = max(biggest, len(piece))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Drained(total, biggest, peak)
