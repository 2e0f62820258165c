"""A get_all_records reply decoded a slice at a time gives exactly the whole map."""

from __future__ import annotations

import orjson
import pytest

from xo.xapi import record_slices
from xo.xapi.errors import XapiError
from xo.xapi.record_slices import RecordSlices, decode_record_slices


def reply(result: object) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "result": result, "id": 7})


def records(count: int, description: str = "") -> dict[str, dict[str, object]]:
    return {
        f"OpaqueRef:{i:04}": {
            "uuid": f"u{i}",
            "name_description": description,
            "VBDs": [f"OpaqueRef:b{i}", f"OpaqueRef:c{i}"],
            "other_config": {"a": {"nested": i}} if i % 3 else {},
        }
        for i in range(count)
    }


def merged(slices: object) -> tuple[dict[str, object], int]:
    out: dict[str, object] = {}
    count = 0
    for chunk in slices:  # type: ignore[attr-defined]
        assert not out.keys() & chunk.keys()
        out.update(chunk)
        count += 1
    return out, count


@pytest.fixture
def small_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record_slices, "SLICE_BYTES", 300)


def test_a_big_map_comes_in_several_slices_that_make_the_whole(small_slices: None) -> None:
    expected = records(200)
    slices = decode_record_slices(reply(expected))
    assert isinstance(slices, RecordSlices)
    got, count = merged(slices)
    assert got == expected
    assert count > 20


def test_a_cut_inside_a_string_falls_back_to_a_whole_decode(small_slices: None) -> None:
    # every description contains the separator: the cuts land inside strings
    expected = records(60, description='x},"OpaqueRef:y')
    got, _ = merged(decode_record_slices(reply(expected)))
    assert got == expected


def test_a_cut_inside_a_nested_map_falls_back_too(small_slices: None) -> None:
    expected = {
        f"OpaqueRef:{i}": {"m": {"k": {"x": 1}, "OpaqueRef:z": {"y": 2}}, "n": i}
        for i in range(100)
    }
    got, _ = merged(decode_record_slices(reply(expected)))
    assert got == expected


def test_empty_map_and_other_layouts() -> None:
    assert merged(decode_record_slices(reply({})))[0] == {}
    v1 = orjson.dumps({"result": {"OpaqueRef:a": {"x": 1}}, "error": None, "id": 1})
    assert decode_record_slices(v1) == [{"OpaqueRef:a": {"x": 1}}]


def test_an_error_reply_raises_at_once() -> None:
    body = orjson.dumps(
        {"jsonrpc": "2.0", "error": {"code": 1, "message": "SESSION_INVALID", "data": ["s"]}, "id": 1}
    )
    with pytest.raises(XapiError) as info:
        decode_record_slices(body)
    assert info.value.code == "SESSION_INVALID"
