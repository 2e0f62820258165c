"""Decoding XAPI's XML-RPC: requests on the server side, responses on the client side.

Lenient like ocaml-rpc's parser: untyped values and ``<string>`` give ``str``,
``<i4>/<int>/<i8>`` ``int``, ``<double>`` ``float``, ``<boolean>`` ``bool``,
``<dateTime.iso8601>`` the ``str`` as sent, ``<base64>`` the decoded text, ``<nil/>`` ``None``.
:mod:`xo.formats.xmlrpc` re-exports everything public here.
"""

from __future__ import annotations

import base64
import binascii
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any


class XmlRpcParseError(ValueError):
    """The bytes are not a well-formed XML-RPC document of the expected kind."""


class XmlRpcFailure(Exception):
    """A response with ``Status: Failure``: ``description`` is XAPI's ``[code, *params]``."""

    def __init__(self, description: list[str]) -> None:
        super().__init__(*description)
        self.description = description


class XmlRpcFault(Exception):
    """A standard XML-RPC ``<fault>`` (XAPI never uses it for API errors)."""

    def __init__(self, code: Any, message: Any) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


def _parse_xml(data: bytes | str) -> ET.Element:
    try:
        return ET.fromstring(data)
    except (ET.ParseError, ValueError) as e:
        raise XmlRpcParseError(f"malformed XML: {e}") from None


def _text(elem: ET.Element) -> str:
    return elem.text or ""


def _dec_int(elem: ET.Element) -> int:
    try:
        return int(_text(elem).strip())
    except ValueError:
        raise XmlRpcParseError(f"bad integer {_text(elem)!r}") from None


def _dec_double(elem: ET.Element) -> float:
    try:
        return float(_text(elem).strip())
    except ValueError:
        raise XmlRpcParseError(f"bad double {_text(elem)!r}") from None


def _dec_bool(elem: ET.Element) -> bool:
    t = _text(elem).strip().lower()
    if t in ("1", "true"):
        return True
    if t in ("0", "false"):
        return False
    raise XmlRpcParseError(f"bad boolean {t!r}")


def _dec_base64(elem: ET.Element) -> str:
    try:
        return base64.b64decode(_text(elem), validate=False).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        raise XmlRpcParseError("bad base64") from None


def _dec_array(elem: ET.Element) -> list:
    data = elem.find("data")
    if data is None:
        return []
    return [_decode_value(v) for v in data if v.tag == "value"]


def _dec_struct(elem: ET.Element) -> dict:
    result: dict[str, Any] = {}
    for member in elem:
        if member.tag != "member":
            continue
        name = member.find("name")
        value = member.find("value")
        if name is None or value is None:
            raise XmlRpcParseError("struct member without name or value")
        result[_text(name)] = _decode_value(value)
    return result


_DECODERS: dict[str, Callable[[ET.Element], Any]] = {
    "string": _text,
    "i4": _dec_int,
    "i8": _dec_int,
    "int": _dec_int,
    "double": _dec_double,
    "boolean": _dec_bool,
    "dateTime.iso8601": lambda e: _text(e).strip(),
    "base64": _dec_base64,
    "array": _dec_array,
    "struct": _dec_struct,
    "nil": lambda e: None,
}


def _decode_value(elem: ET.Element) -> Any:
    if elem.tag != "value":
        raise XmlRpcParseError(f"expected <value>, got <{elem.tag}>")
    if len(elem) == 0:
        return elem.text or ""
    child = elem[0]
    dec = _DECODERS.get(child.tag)
    if dec is None:
        raise XmlRpcParseError(f"unknown value type <{child.tag}>")
    return dec(child)


def loads_request(body: bytes) -> tuple[str, list]:
    """``(method, params)`` of a ``<methodCall>``; raises :class:`XmlRpcParseError` on garbage."""
    root = _parse_xml(body)
    if root.tag != "methodCall":
        raise XmlRpcParseError(f"expected <methodCall>, got <{root.tag}>")
    name = root.find("methodName")
    if name is None or not (name.text or "").strip():
        raise XmlRpcParseError("missing <methodName>")
    params: list = []
    params_elem = root.find("params")
    if params_elem is not None:
        for param in params_elem:
            if param.tag != "param":
                raise XmlRpcParseError(f"expected <param>, got <{param.tag}>")
            if len(param) != 1:
                raise XmlRpcParseError("<param> must hold exactly one <value>")
            params.append(_decode_value(param[0]))
    return name.text.strip(), params  # type: ignore[union-attr]


def loads_response(body: bytes) -> Any:
    """The bare result of a ``<methodResponse>``.

    ``{Status: Success, Value: v}`` gives ``v``; ``Status: Failure`` raises :class:`XmlRpcFailure`;
    a value without the wrapper (``system.listMethods``) is returned as is; ``<fault>`` raises
    :class:`XmlRpcFault`.
    """
    root = _parse_xml(body)
    if root.tag != "methodResponse":
        raise XmlRpcParseError(f"expected <methodResponse>, got <{root.tag}>")
    fault = root.find("fault")
    if fault is not None:
        value = fault.find("value")
        decoded = _decode_value(value) if value is not None else {}
        if isinstance(decoded, dict):
            raise XmlRpcFault(decoded.get("faultCode"), decoded.get("faultString"))
        raise XmlRpcFault(None, decoded)
    value_elem = root.find("params/param/value")
    if value_elem is None:
        raise XmlRpcParseError("response without a value")
    value = _decode_value(value_elem)
    if isinstance(value, dict) and "Status" in value:
        if value["Status"] == "Success":
            return value.get("Value", "")
        if value["Status"] == "Failure":
            description = value.get("ErrorDescription", [])
            if not isinstance(description, list):
                description = [str(description)]
            raise XmlRpcFailure([str(x) for x in description])
    return value


def parse_value_fragment(xml: str) -> Any:
    """Decode one ``<value>…</value>`` fragment (e.g. a task's ``result``)."""
    if not xml.strip():
        return ""
    return _decode_value(_parse_xml(xml))
