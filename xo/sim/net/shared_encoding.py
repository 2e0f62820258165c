"""Encodings shared between answers: `event.from` hands the very same events list to every
subscriber waiting at the same token (xo/sim/events.py caches it per subscription and token), so
its XML-RPC or JSON-RPC encoding is made once and embedded in each subscriber's answer.

Keyed by the value's identity; an entry holds the value itself, so its id cannot be reused by
another object while it is cached. Values handed out by the model are never mutated (records are
replaced on write), which is what makes an encoding reusable.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

# A few tokens in flight at once (subscribers that fell behind ask from older tokens).
CACHED_ENCODINGS = 8


class SharedEncodings:
    """A small LRU of (kind, value identity) -> encoding."""

    def __init__(self, size: int = CACHED_ENCODINGS) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, int], tuple[Any, Any]] = OrderedDict()

    def get(self, kind: str, value: Any, encode: Callable[[Any], Any]) -> Any:
        key = (kind, id(value))
        entry = self._entries.get(key)
        if entry is not None and entry[0] is value:
            self._entries.move_to_end(key)
            return entry[1]
        encoded = encode(value)
        self._entries[key] = (value, encoded)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return encoded

    def __len__(self) -> int:
        return len(self._entries)
