"""XAPI RPC bodies, pure: build JSON-RPC v2 / XML-RPC requests, decode replies into values or
`XapiError`. No I/O here; `XapiClient` sends what this builds.

JSON-RPC (``POST /jsonrpc``) is tried first. A reply whose content-type is not exactly
``application/json`` means the host does not speak it (xen-api's rule), and the client falls back
to XML-RPC (``POST /``) for that host.
"""

from __future__ import annotations

import gc
from typing import Any

import orjson

from xo.formats import xmlrpc

from .errors import XapiError, XapiProtocolError

# Replies above this size are decoded with the cyclic GC paused: decoding a 10,000-VM
# get_all_records allocates millions of (acyclic) objects, and with a large live heap the
# collections this triggers made decoding 3-4x slower. Small replies are not worth the toggle.
GC_PAUSE_THRESHOLD = 1 << 20

JSON_PATH = "/jsonrpc"
XML_PATH = "/"
JSON_CONTENT_TYPE = "application/json"
XML_CONTENT_TYPES = ("text/xml", "application/xml")


def encode_json_request(method: str, params: list[Any], request_id: int) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": request_id})


def is_json_reply(content_type: str | None) -> bool:
    """Exactly ``application/json`` (no charset), as xen-api checks it."""
    return content_type == JSON_CONTENT_TYPE


def is_xml_reply(content_type: str | None) -> bool:
    if content_type is None:
        return False
    return content_type.split(";", 1)[0].strip().lower() in XML_CONTENT_TYPES


def decode_json_response(body: bytes) -> Any:
    """The ``result`` of a JSON-RPC v1 or v2 reply; an ``error`` raises `XapiError`."""
    pause = len(body) > GC_PAUSE_THRESHOLD and gc.isenabled()
    if pause:
        gc.disable()
    try:
        reply = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise XapiProtocolError(f"invalid JSON-RPC reply: {exc}") from None
    finally:
        if pause:
            gc.enable()
    if not isinstance(reply, dict):
        raise XapiProtocolError("JSON-RPC reply is not an object")
    error = reply.get("error")
    if error is not None:
        raise _json_error(error)
    if "result" not in reply:
        raise XapiProtocolError("JSON-RPC reply without result nor error")
    return reply["result"]


def _json_error(error: Any) -> XapiError:
    if isinstance(error, list):  # v1: [code, *params]
        return XapiError.from_description(error)
    if isinstance(error, dict):  # v2: {code: 1, message: CODE, data: [params]}
        data = error.get("data")
        if data is None:
            data = []
        elif not isinstance(data, list):
            data = [data]
        return XapiError(str(error.get("message", "UNKNOWN_ERROR")), data)
    return XapiError(str(error))


def encode_xml_request(method: str, params: list[Any]) -> bytes:
    # Python ints are sent untyped (a string to XAPI), which is how XAPI's int64 parameters are
    # accepted over XML-RPC; bools and floats are typed.
    return xmlrpc.dumps_request(method, params)


def decode_xml_response(body: bytes) -> Any:
    """The bare value of a ``<methodResponse>``; ``Status: Failure`` raises `XapiError`."""
    try:
        return xmlrpc.loads_response(body)
    except xmlrpc.XmlRpcFailure as failure:
        raise XapiError.from_description(failure.description) from None
    except xmlrpc.XmlRpcFault as fault:
        raise XapiError("XMLRPC_FAULT", [str(fault.code), str(fault.message)]) from None
    except xmlrpc.XmlRpcParseError as exc:
        raise XapiProtocolError(f"invalid XML-RPC reply: {exc}") from None


def parse_task_result(result: str) -> Any:
    """A task's ``result``: an XML-RPC ``<value>`` fragment, or a bare string (some handlers)."""
    text = result.strip()
    if not text.startswith("<value"):
        return result
    try:
        return xmlrpc.parse_value_fragment(text)
    except xmlrpc.XmlRpcParseError as exc:
        raise XapiProtocolError(f"invalid task result: {exc}") from None
