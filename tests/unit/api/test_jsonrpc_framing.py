"""JSON-RPC framing of the API socket (pure)."""

from __future__ import annotations

import msgpack
import orjson
import pytest

from xo.web.jsonrpc import (
    JSON,
    Invalid,
    MsgpackCodec,
    Notification,
    Request,
    choose_codec,
    error_message,
    result_message,
)


def test_requests_keep_their_ids_verbatim() -> None:
    for msg_id in (-9007199254740991, "abc", 3, 1.5, None):
        frame = orjson.dumps({"jsonrpc": "2.0", "id": msg_id, "method": "m", "params": {}})
        assert JSON.decode(frame) == Request(msg_id, "m", {})


def test_notifications_have_no_id() -> None:
    assert JSON.decode('{"jsonrpc":"2.0","method":"m"}') == Notification("m", None)


@pytest.mark.parametrize(
    ("frame", "code", "msg_id"),
    [
        ("{bad", -32700, None),
        ("", -32700, None),
        ('"just a string"', -32600, None),
        ("[]", -32600, None),
        ('[{"jsonrpc":"2.0","id":1,"method":"m"}]', -32600, None),
        ('{"id":1,"method":"m","params":{}}', -32600, 1),
        ('{"jsonrpc":"2.0","id":2,"method":""}', -32600, 2),
        ('{"jsonrpc":"2.0","id":3,"method":5}', -32600, 3),
        ('{"jsonrpc":"2.0","id":4,"method":"m","params":5}', -32600, 4),
        ('{"jsonrpc":"2.0","id":{"a":1},"method":"m"}', -32600, None),
        ('{"jsonrpc":"2.0","id":true,"method":"m"}', -32600, None),
        ("[" * 5000, -32700, None),
    ],
)
def test_invalid_frames_get_an_error_to_send(frame: str, code: int, msg_id: object) -> None:
    message = JSON.decode(frame)
    assert isinstance(message, Invalid)
    assert message.error.code == code
    assert message.id == msg_id


def test_response_member_order_is_xos() -> None:
    assert JSON.encode(result_message(1, True)) == '{"id":1,"jsonrpc":"2.0","result":true}'
    assert list(error_message(1, {"message": "m", "code": 3})) == ["error", "id", "jsonrpc"]


def test_msgpack_codec_round_trips_the_same_messages() -> None:
    codec = MsgpackCodec()
    frame = msgpack.packb({"jsonrpc": "2.0", "id": 7, "method": "m", "params": {"a": [1, 2]}})
    assert codec.decode(frame) == Request(7, "m", {"a": [1, 2]})
    assert msgpack.unpackb(codec.encode(result_message(7, {"x": b"y"}))) == {
        "id": 7,
        "jsonrpc": "2.0",
        "result": {"x": b"y"},
    }
    assert isinstance(codec.decode(b"\xc1"), Invalid)
    assert isinstance(codec.decode("text"), Invalid)


def test_codec_choice() -> None:
    assert choose_codec([]) == (JSON, None)
    codec, accepted = choose_codec(["foo", "msgpack"])
    assert codec.name == "msgpack" and accepted == "msgpack"
