"""XAPI's XML-RPC encoding (pure: values in, bytes out and back).

XAPI serialises in ocaml-rpc's *non-strict* mode (reference xapi.md §1.2):

- strings, refs, enums **and int64** are untyped: ``<value>text</value>``;
- ``Int32`` (only ``event.from``'s ``valid_ref_counts``) is ``<i4>``; ``<i8>`` is never emitted;
- floats ``<double>%.16g</double>``, bools ``<boolean>1|0</boolean>``;
- datetimes ``<dateTime.iso8601>YYYYMMDDTHH:MM:SSZ</dateTime.iso8601>``;
- lists ``<array><data>``, dicts ``<struct>`` (keys stringified), ``None`` ``<value></value>``.

Only ``> < & "`` are escaped and control characters other than tab/LF/CR are dropped.

Responses are wrapped in ``{Status: Success, Value}`` / ``{Status: Failure, ErrorDescription}``
except ``system.listMethods`` (:func:`dumps_raw_response`).

Decoding (requests on the server side, responses on the client side) lives in
:mod:`xo.formats.xmlrpc_decode` and is re-exported here.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Iterator
from typing import Any

from xo.formats.xmlrpc_decode import (
    XmlRpcFailure,
    XmlRpcFault,
    XmlRpcParseError,
    loads_request,
    loads_response,
    parse_value_fragment,
)

__all__ = [
    "DateTime",
    "Encoded",
    "Int32",
    "XmlRpcFailure",
    "XmlRpcFault",
    "XmlRpcParseError",
    "dumps_raw_response",
    "dumps_request",
    "dumps_response_failure",
    "dumps_response_success",
    "encode_value",
    "escape",
    "format_datetime",
    "iter_response_success",
    "loads_request",
    "loads_response",
    "parse_value_fragment",
]


class Int32(int):
    """An int emitted as ``<i4>`` (XAPI only does so for ``valid_ref_counts``)."""

    __slots__ = ()


class DateTime(str):
    """A datetime already in XAPI's wire form ``YYYYMMDDTHH:MM:SSZ``.

    Being a ``str`` it serialises as the right JSON string as-is (orjson and json handle str
    subclasses), while the XML-RPC encoder tags it ``<dateTime.iso8601>``.
    """

    __slots__ = ()

    @classmethod
    def from_datetime(cls, value: _dt.datetime) -> DateTime:
        return cls(format_datetime(value))

    @classmethod
    def from_timestamp(cls, seconds: float) -> DateTime:
        return cls(format_datetime(_dt.datetime.fromtimestamp(seconds, _dt.UTC)))


# --- encoding ----------------------------------------------------------------------------------

_ESCAPES: dict[int, str | None] = {
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
    ord('"'): "&quot;",
}
for _c in range(32):
    if _c not in (9, 10, 13):
        _ESCAPES[_c] = None
_ESCAPES[0x7F] = None
del _c


# Most strings need no escaping: a regex search is much cheaper than str.translate.
_NEEDS_ESCAPE = re.compile('[&<>"\x00-\x08\x0b\x0c\x0e-\x1f\x7f]')


def escape(text: str) -> str:
    """Escape like ocaml-rpc: ``& < > "`` only, control characters dropped."""
    return text.translate(_ESCAPES) if _NEEDS_ESCAPE.search(text) else text


def format_datetime(value: _dt.datetime) -> str:
    """``YYYYMMDDTHH:MM:SSZ`` in UTC (naive datetimes are taken as UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(_dt.UTC)
    return f"{value.year:04d}{value.month:02d}{value.day:02d}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}Z"


class Encoded(str):
    """An already encoded ``<value>…</value>`` fragment, emitted verbatim.

    Lets a caller encode a large shared value once (``event.from`` events seen by many
    subscribers at the same token) and embed it in many responses.
    """

    __slots__ = ()


_TRUE = "<value><boolean>1</boolean></value>"
_FALSE = "<value><boolean>0</boolean></value>"
_EMPTY_STRUCT = "<value><struct></struct></value>"
_EMPTY_ARRAY = "<value><array><data></data></array></value>"
# Inside a struct the member's closing tag rides along with its value: one piece fewer.
_TRUE_M = _TRUE + "</member>"
_FALSE_M = _FALSE + "</member>"
_EMPTY_STRUCT_M = _EMPTY_STRUCT + "</member>"
_EMPTY_ARRAY_M = _EMPTY_ARRAY + "</member>"

_search_escape = _NEEDS_ESCAPE.search


def _enc_str(v: str, out: list[str]) -> None:
    out.append(f"<value>{v.translate(_ESCAPES) if _search_escape(v) else v}</value>")


def _enc_int(v: int, out: list[str]) -> None:
    out.append(f"<value>{int(v)}</value>")


def _enc_int32(v: int, out: list[str]) -> None:
    out.append(f"<value><i4>{int(v)}</i4></value>")


def _enc_bool(v: bool, out: list[str]) -> None:
    out.append(_TRUE if v else _FALSE)


def _enc_float(v: float, out: list[str]) -> None:
    out.append(f"<value><double>{v:.16g}</double></value>")


def _enc_datetime_str(v: str, out: list[str]) -> None:
    out.append(f"<value><dateTime.iso8601>{v}</dateTime.iso8601></value>")


def _enc_datetime(v: _dt.datetime, out: list[str]) -> None:
    _enc_datetime_str(format_datetime(v), out)


def _enc_none(v: None, out: list[str]) -> None:
    out.append("<value></value>")


def _enc_encoded(v: str, out: list[str]) -> None:
    out.append(v)


def _enc_list(v: list | tuple | set | frozenset, out: list[str]) -> None:
    if not v:
        out.append(_EMPTY_ARRAY)
        return
    append = out.append
    append("<value><array><data>")
    for item in v:
        if type(item) is str:
            append(f"<value>{item.translate(_ESCAPES) if _search_escape(item) else item}</value>")
        else:
            _encode(item, out)
    append("</data></array></value>")


# "<member><name>key</name>" for the keys seen most (record field names), bounded.
_MEMBER_HEADS: dict[str, str] = {}
_MEMBER_HEADS_MAX = 4096


def _member_head(key: object) -> str:
    name = key if type(key) is str else str(key)
    head = _MEMBER_HEADS.get(name)
    if head is None:
        head = f"<member><name>{escape(name)}</name>"
        if len(_MEMBER_HEADS) < _MEMBER_HEADS_MAX:
            _MEMBER_HEADS[name] = head
    return head


def _enc_dict(v: dict, out: list[str]) -> None:
    # The hot loop of every record: the common types are handled inline (a record is mostly
    # strings, bools, ints and empty maps/sets), everything else goes through _encode.
    if not v:
        out.append(_EMPTY_STRUCT)
        return
    append = out.append
    heads = _MEMBER_HEADS.get
    append("<value><struct>")
    for key, item in v.items():
        append(heads(key) or _member_head(key))  # type: ignore[call-overload]
        kind = type(item)
        if kind is str:
            append(
                f"<value>{item.translate(_ESCAPES) if _search_escape(item) else item}"
                "</value></member>"
            )
        elif kind is bool:
            append(_TRUE_M if item else _FALSE_M)
        elif kind is int:
            append(f"<value>{item}</value></member>")
        elif kind is dict:
            if item:
                _enc_dict(item, out)
                append("</member>")
            else:
                append(_EMPTY_STRUCT_M)
        elif kind is list:
            if item:
                _enc_list(item, out)
                append("</member>")
            else:
                append(_EMPTY_ARRAY_M)
        else:
            _encode(item, out)
            append("</member>")
    append("</struct></value>")


def _enc_bytes(v: bytes, out: list[str]) -> None:
    _enc_str(v.decode("utf-8", "replace"), out)


_ENCODERS: dict[type, Callable[[Any, list[str]], None]] = {
    str: _enc_str,
    int: _enc_int,
    bool: _enc_bool,
    float: _enc_float,
    Int32: _enc_int32,
    DateTime: _enc_datetime_str,
    Encoded: _enc_encoded,
    _dt.datetime: _enc_datetime,
    type(None): _enc_none,
    list: _enc_list,
    tuple: _enc_list,
    set: _enc_list,
    frozenset: _enc_list,
    dict: _enc_dict,
    bytes: _enc_bytes,
}

# Subclasses are looked up in this order (bool before int, Int32 before int, DateTime and
# Encoded before str).
_FALLBACK_ORDER: tuple[type, ...] = (
    bool,
    Int32,
    DateTime,
    Encoded,
    _dt.datetime,
    int,
    float,
    str,
    dict,
    list,
    tuple,
    set,
    frozenset,
    bytes,
)


def _encode(v: Any, out: list[str]) -> None:
    enc = _ENCODERS.get(type(v))
    if enc is None:
        for base in _FALLBACK_ORDER:
            if isinstance(v, base):
                enc = _ENCODERS[base]
                break
        else:
            raise TypeError(f"cannot encode {type(v).__name__} as XML-RPC")
    enc(v, out)


def encode_value(v: Any) -> str:
    """One ``<value>…</value>`` in XAPI's non-strict encoding."""
    out: list[str] = []
    _encode(v, out)
    return "".join(out)


# Streaming: containers with more items than this are walked item by item (a table of records,
# a list of events), so that a piece can be cut between two items; smaller ones (a record) are
# encoded in one go.
_STREAM_SPLIT = 256
# A piece is cut once this many string parts are pending (~0.5 MB of XML for VM records).
STREAM_PARTS = 16_384


def _iter_encode(v: Any, out: list[str], limit: int, split: int) -> Iterator[None]:
    """Encode ``v`` into ``out``, yielding whenever ``out`` holds at least ``limit`` parts.

    Containers larger than ``split`` are walked item by item (the top-level value always is:
    ``{"events": [...]}``); smaller ones are encoded in one go."""
    kind = type(v)
    if kind is dict and len(v) > split:
        append = out.append
        append("<value><struct>")
        for key, item in v.items():
            append(_MEMBER_HEADS.get(key) or _member_head(key))
            yield from _iter_encode(item, out, limit, _STREAM_SPLIT)
            append("</member>")
            if len(out) >= limit:
                yield
        append("</struct></value>")
    elif kind is list and len(v) > split:
        out.append("<value><array><data>")
        for item in v:
            yield from _iter_encode(item, out, limit, _STREAM_SPLIT)
            if len(out) >= limit:
                yield
        out.append("</data></array></value>")
    else:
        _encode(v, out)


def iter_response_success(value: Any, *, parts: int = STREAM_PARTS) -> Iterator[bytes]:
    """:func:`dumps_response_success` in bounded pieces (their concatenation is the same bytes):
    a 10,000-VM ``get_all_records`` is sent while it is encoded, never held whole."""
    out = [_SUCCESS_HEAD]
    for _ in _iter_encode(value, out, parts, 0):
        yield "".join(out).encode()
        out.clear()
    out.append(_WRAPPED_TAIL)
    yield "".join(out).encode()


_RESPONSE_HEAD = '<?xml version="1.0"?><methodResponse><params><param>'
_RESPONSE_TAIL = "</param></params></methodResponse>"
_SUCCESS_HEAD = (
    _RESPONSE_HEAD + "<value><struct><member><name>Status</name><value>Success</value></member>"
    "<member><name>Value</name>"
)
_FAILURE_HEAD = (
    _RESPONSE_HEAD + "<value><struct><member><name>Status</name><value>Failure</value></member>"
    "<member><name>ErrorDescription</name>"
)
_WRAPPED_TAIL = "</member></struct></value>" + _RESPONSE_TAIL


def dumps_response_success(value: Any) -> bytes:
    out = [_SUCCESS_HEAD]
    _encode(value, out)
    out.append(_WRAPPED_TAIL)
    return "".join(out).encode()


def dumps_response_failure(error_description: list[str]) -> bytes:
    out = [_FAILURE_HEAD]
    _enc_list([str(x) for x in error_description], out)
    out.append(_WRAPPED_TAIL)
    return "".join(out).encode()


def dumps_raw_response(value: Any) -> bytes:
    """A response without the Status wrapper (what xapi does for ``system.listMethods``)."""
    out = [_RESPONSE_HEAD]
    _encode(value, out)
    out.append(_RESPONSE_TAIL)
    return "".join(out).encode()


def dumps_request(method: str, params: list) -> bytes:
    out = ['<?xml version="1.0"?><methodCall><methodName>', escape(method), "</methodName><params>"]
    for p in params:
        out.append("<param>")
        _encode(p, out)
        out.append("</param>")
    out.append("</params></methodCall>")
    return "".join(out).encode()
