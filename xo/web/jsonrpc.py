"""JSON-RPC 2.0 framing of the API WebSocket, pure: frames in, messages out, and back.

Incoming frames parse to a :class:`Request` (answered), a :class:`Notification` (never
answered, as XO ignores client notifications) or an :class:`Invalid` (answered with its error;
XO stays silent there, clients cannot tell the difference except that they get an answer):

- malformed JSON -> ``-32700 invalid JSON``;
- anything but an object with ``"jsonrpc": "2.0"``, a non-empty string ``method``, an id that is
  a string, a number or null, and params that are an object or an array -> ``-32600``;
- a batch (a JSON array) -> ``-32600`` "batches are not supported": XO cannot answer them either
  (it sends garbage frames), and no XO client sends them.

Responses keep XO's member order: ``{"id", "jsonrpc", "result"}`` and ``{"error", "id",
"jsonrpc"}``. Two codecs: JSON in text frames (the default, what XO clients speak) and msgpack in
binary frames (subprotocol ``msgpack``), carrying the same messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack
import orjson

from xo.api.errors import JsonRpcError, invalid_request, parse_error


@dataclass(frozen=True)
class Request:
    id: Any
    method: str
    params: Any


@dataclass(frozen=True)
class Notification:
    method: str
    params: Any


@dataclass(frozen=True)
class Invalid:
    id: Any
    error: JsonRpcError


Message = Request | Notification | Invalid


def _is_valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, str | int | float) and not isinstance(value, bool))


def interpret(message: Any) -> Message:
    """Classify one decoded message."""
    if isinstance(message, list):
        return Invalid(None, invalid_request("batches are not supported"))
    if not isinstance(message, dict):
        return Invalid(None, invalid_request("a message must be an object"))
    raw_id = message.get("id")
    msg_id = raw_id if _is_valid_id(raw_id) else None
    if message.get("jsonrpc") != "2.0":
        return Invalid(msg_id, invalid_request('"jsonrpc" must be "2.0"'))
    if not _is_valid_id(raw_id):
        return Invalid(None, invalid_request('"id" must be a string, a number or null'))
    method = message.get("method")
    if not isinstance(method, str) or not method:
        return Invalid(msg_id, invalid_request('"method" must be a non-empty string'))
    params = message.get("params")
    if params is not None and not isinstance(params, dict | list):
        return Invalid(msg_id, invalid_request('"params" must be an object or an array'))
    if "id" not in message:
        return Notification(method, params)
    return Request(msg_id, method, params)


def result_message(msg_id: Any, result: Any) -> dict[str, Any]:
    return {"id": msg_id, "jsonrpc": "2.0", "result": result}


def error_message(msg_id: Any, error: dict[str, Any]) -> dict[str, Any]:
    return {"error": error, "id": msg_id, "jsonrpc": "2.0"}


def notification_message(method: str, params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params}


class JsonCodec:
    """JSON in text frames."""

    name = "json"
    binary = False

    def decode(self, frame: str | bytes) -> Message:
        try:
            message = orjson.loads(frame)
        except orjson.JSONDecodeError:
            return Invalid(None, parse_error())
        return interpret(message)

    def encode(self, message: dict[str, Any]) -> str:
        return orjson.dumps(message).decode()


class MsgpackCodec:
    """msgpack in binary frames (``Sec-WebSocket-Protocol: msgpack``)."""

    name = "msgpack"
    binary = True

    def decode(self, frame: str | bytes) -> Message:
        if isinstance(frame, str):
            return Invalid(None, parse_error("text frame on a msgpack connection"))
        try:
            message = msgpack.unpackb(frame, raw=False, strict_map_key=True)
        except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, TypeError):
            return Invalid(None, parse_error("invalid msgpack"))
        return interpret(message)

    def encode(self, message: dict[str, Any]) -> bytes:
        return msgpack.packb(message, use_bin_type=True)


CODECS = {"msgpack": MsgpackCodec()}
JSON = JsonCodec()


def choose_codec(requested_subprotocols: list[str]) -> tuple[JsonCodec | MsgpackCodec, str | None]:
    """The codec for a connection and the subprotocol to accept (None: plain JSON)."""
    for name in requested_subprotocols:
        codec = CODECS.get(name.strip().lower())
        if codec is not None:
            return codec, name
    return JSON, None
