"""SharedEncodings: one encoding per shared value (event.from's events list), by identity."""

from __future__ import annotations

from xo.formats import xmlrpc
from xo.sim.net.shared_encoding import SharedEncodings


def test_the_same_object_is_encoded_once_and_an_equal_one_again() -> None:
    calls: list[object] = []

    def encode(value: object) -> str:
        calls.append(value)
        return xmlrpc.encode_value(value)

    shared = SharedEncodings(size=2)
    events = [{"ref": "OpaqueRef:a", "operation": "mod"}]
    first = shared.get("xml", events, encode)
    assert shared.get("xml", events, encode) is first and len(calls) == 1
    # another list with the same content is another value (the model makes a new one per token)
    assert shared.get("xml", list(events), encode) == first and len(calls) == 2
    # each wire format has its own entry
    shared.get("json", events, lambda v: b"[]")
    assert len(shared) == 2  # bounded: the oldest entry went
    shared.get("xml", events, encode)
    assert len(calls) == 3


def test_a_cached_value_is_kept_alive_so_its_id_cannot_be_reused() -> None:
    shared = SharedEncodings(size=4)
    shared.get("xml", [1], lambda v: "one")
    # the list above is only referenced by the cache; a new list may not take over its entry
    assert shared.get("xml", [2], lambda v: "two") == "two"
