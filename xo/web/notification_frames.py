"""The ``all`` notification frames, encoded once for every connection that sends the same batch.

Each signed-in connection filters the store's changes through its own view, but most of them
(every admin, every user with the same rights) end up sending identical ``enter``/``exit``
messages for a batch, one right after the other. :class:`FrameCache` remembers the last few
frames it encoded, keyed by the codec, the message type and the ids with the *identity* of each
object (store objects are never mutated after publication; the cache keeps them alive, so an
identity cannot be reused while its entry exists): the first connection encodes, the others
send the same bytes. Only frames up to :attr:`FrameCache.MAX_FRAME` are kept (the steady
state's batches are a few KB): a load's 50 MB frame would otherwise outlive its sending while no
other change comes to push it out (each connection encodes those itself, as before).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from xo.web.jsonrpc import JsonCodec, MsgpackCodec, notification_message

Codec = JsonCodec | MsgpackCodec


class FrameCache:
    MAX_FRAME = 1 << 20

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._frames: dict[tuple[Any, ...], tuple[str | bytes, Any]] = {}

    def enter(self, codec: Codec, items: dict[str, dict[str, Any]]) -> str | bytes:
        key = (codec.name, "enter", tuple((k, id(v)) for k, v in items.items()))
        cached = self._frames.get(key)
        if cached is not None:
            return cached[0]
        frame = codec.encode(notification_message("all", {"type": "enter", "items": items}))
        self._remember(key, frame, items)
        return frame

    def exit(self, codec: Codec, ids: Iterable[str]) -> str | bytes:
        ordered = tuple(ids)
        key = (codec.name, "exit", ordered)
        cached = self._frames.get(key)
        if cached is not None:
            return cached[0]
        items = dict.fromkeys(ordered, 0)
        frame = codec.encode(notification_message("all", {"type": "exit", "items": items}))
        self._remember(key, frame, None)
        return frame

    def _remember(self, key: tuple[Any, ...], frame: str | bytes, pinned: Any) -> None:
        if len(frame) > self.MAX_FRAME:
            return
        frames = self._frames
        while len(frames) >= self.size:
            del frames[next(iter(frames))]
        frames[key] = (frame, pinned)


FRAMES = FrameCache()
