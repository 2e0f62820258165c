"""Decoding a big ``get_all_records`` JSON-RPC reply a slice at a time, pure.

A 10,000-VM pool answers ``VM.get_all_records`` with tens of MB of JSON. Decoded in one go, it
becomes millions of small objects alive at once; the few the trimmed records keep (refs, uuids,
names) are scattered among them, so once the rest is freed the allocator's arenas stay mostly
empty but pinned: the process keeps hundreds of MB it does not use. Cut into slices of a few
hundred records, decoded and consumed one after the other, each slice reuses the memory the
previous one freed, and the peak is one slice.

The cut points are found without parsing: a record ends with ``}`` and the next key is a ref,
so ``},"OpaqueRef:`` is a candidate. A candidate that is not at the top level of the result
map (inside a string, or deeper) makes a slice that is not a valid JSON object on its own, which
orjson refuses; the whole body is then decoded as usual and only the records not yet handed out
are. Any reply that is not a plain ``{"jsonrpc": "2.0", "result": {...}, "id": ...}`` (an error,
another layout) goes through `decode_json_response`, which raises what it should.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

from .errors import XapiProtocolError
from .rpc import decode_json_response

# A slice of the reply is at least this many bytes (the last one may be smaller).
SLICE_BYTES = 256 << 10

_HEAD = re.compile(rb'\s*\{\s*"jsonrpc"\s*:\s*"2\.0"\s*,\s*"result"\s*:\s*\{')
_TAIL = re.compile(rb'\}\s*,\s*"id"\s*:\s*(?:\d+|"[^"\\]*"|null)\s*\}\s*$')
_CUT = b'},"OpaqueRef:'


class RecordSlices:
    """The ``result`` map of one JSON-RPC reply, iterated as dicts of at most ~`SLICE_BYTES` of
    JSON each (together: the whole map, each key once). Iterate once."""

    def __init__(self, body: bytes, start: int, end: int) -> None:
        self._body = body
        self._start = start  # index of the result map's first byte after "{"
        self._end = end  # index of the result map's closing "}"

    def __iter__(self) -> Iterator[dict[str, Any]]:
        body, end = self._body, self._end
        self._body = b""  # iterate once; the body is freed with the iterator
        position = self._start
        handed: list[str] = []
        while position < end:
            cut = body.find(_CUT, position + SLICE_BYTES, end)
            stop = end if cut < 0 else cut + 1
            try:
                chunk = orjson.loads(b"{" + body[position:stop] + b"}")
            except orjson.JSONDecodeError:
                chunk = None
            if not isinstance(chunk, dict):  # a cut inside a string or a nested map
                yield from _rest(body, handed)
                return
            handed.extend(chunk)
            yield chunk
            position = stop + 1  # past the comma
        return


def _rest(body: bytes, handed: list[str]) -> Iterator[dict[str, Any]]:
    result = decode_json_response(body)
    if not isinstance(result, dict):
        raise XapiProtocolError("get_all_records reply is not a map")
    for key in handed:
        result.pop(key, None)
    yield result


def decode_record_slices(body: bytes) -> RecordSlices | list[Any]:
    """Slices of a JSON-RPC reply's ``result`` map (or ``[result]`` when the reply has another
    layout). Errors in the reply raise `XapiError` / `XapiProtocolError` here, not later."""
    head = _HEAD.match(body)
    # the tail is searched for in the last bytes only: a regex scan of 50 MB is seconds
    tail = _TAIL.search(body, max(head.end() - 1, len(body) - 256)) if head is not None else None
    if head is None or tail is None:
        return [decode_json_response(body)]
    return RecordSlices(body, head.end(), tail.start())
