"""Notification frames are encoded once per distinct batch and shared between connections."""

from __future__ import annotations

import orjson

from xo.web.jsonrpc import JSON, MsgpackCodec
from xo.web.notification_frames import FrameCache


def test_same_batch_same_frame_encoded_once() -> None:
    cache = FrameCache()
    vm = {"id": "vm", "type": "VM", "name_label": "a"}
    first = cache.enter(JSON, {"vm": vm})
    second = cache.enter(JSON, {"vm": vm})  # another connection's dict, same object
    assert second is first
    assert orjson.loads(first) == {
        "jsonrpc": "2.0",
        "method": "all",
        "params": {"type": "enter", "items": {"vm": vm}},
    }
    changed = {**vm, "name_label": "b"}  # a new object (objects are never mutated)
    assert orjson.loads(cache.enter(JSON, {"vm": changed}))["params"]["items"]["vm"] == changed
    packed = cache.enter(MsgpackCodec(), {"vm": vm})
    assert isinstance(packed, bytes) and packed is not first
    assert cache.exit(JSON, ["vm"]) is cache.exit(JSON, ("vm",))
    assert orjson.loads(cache.exit(JSON, ["vm"]))["params"] == {"type": "exit", "items": {"vm": 0}}


def test_cache_is_bounded_in_entries_and_frame_size() -> None:
    cache = FrameCache(size=2)
    frames = [cache.exit(JSON, [f"id{i}"]) for i in range(3)]
    assert cache.exit(JSON, ["id2"]) is frames[2]
    assert cache.exit(JSON, ["id0"]) is not frames[0]  # evicted, encoded again
    cache.MAX_FRAME = 10
    big = cache.exit(JSON, ["a-rather-long-id"])
    assert cache.exit(JSON, ["a-rather-long-id"]) is not big
