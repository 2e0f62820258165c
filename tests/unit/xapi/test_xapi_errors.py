"""The exception tree and its one translation table."""

from __future__ import annotations

import ssl

import h11
import pytest
import trio

import xo.xapi
from xo.xapi.errors import (
    XapiError,
    XapiException,
    XapiHttpError,
    XapiProtocolError,
    XapiTimeout,
    XapiUnreachable,
    obfuscate_params,
    translate_transport_error,
)
from xo.xapi.rpc import decode_json_response, decode_xml_response

TRANSPORT_ERRORS = [
    (ConnectionRefusedError(111, "refused"), XapiUnreachable),
    (ConnectionResetError(104, "reset"), XapiUnreachable),
    (OSError(-2, "Name or service not known"), XapiUnreachable),
    (TimeoutError(), XapiUnreachable),
    (trio.TooSlowError(), XapiTimeout),
    (trio.BrokenResourceError(), XapiUnreachable),
    (trio.ClosedResourceError(), XapiUnreachable),
    (ssl.SSLError(1, "handshake failure"), XapiUnreachable),
    (ssl.SSLCertVerificationError(1, "self-signed"), XapiUnreachable),
    (h11.RemoteProtocolError("bad status line"), XapiProtocolError),
    (h11.LocalProtocolError("bad header"), XapiProtocolError),
]


@pytest.mark.parametrize(("exc", "expected"), TRANSPORT_ERRORS)
def test_every_transport_error_is_translated(exc, expected):
    translated = translate_transport_error(exc, "h:443")
    assert type(translated) is expected
    assert isinstance(translated, XapiException)
    assert "h:443" in str(translated)


def test_translation_refuses_non_transport_errors():
    with pytest.raises(TypeError):
        translate_transport_error(KeyError("x"), "h")


def test_tree_shape():
    assert issubclass(XapiHttpError, XapiError)
    assert issubclass(XapiTimeout, XapiUnreachable)
    for cls in (XapiError, XapiUnreachable, XapiProtocolError):
        assert issubclass(cls, XapiException)
    assert not issubclass(XapiUnreachable, XapiError)


def test_public_surface():
    assert set(xo.xapi.__all__) >= {
        "XapiClient",
        "XapiError",
        "XapiUnreachable",
        "XapiTimeout",
        "XapiProtocolError",
        "XapiHttpError",
        "Timeouts",
        "MockTransport",
        "HttpTransport",
        "EventWatcher",
        "follow_events",
    }


def test_json_v1_and_v2_errors_and_xml_failure_all_give_the_same_error():
    v1 = b'{"result": null, "error": ["HANDLE_INVALID", "VM", "OpaqueRef:x"], "id": 1}'
    v2 = (
        b'{"jsonrpc": "2.0", "error": {"code": 1, "message": "HANDLE_INVALID",'
        b' "data": ["VM", "OpaqueRef:x"]}, "id": 1}'
    )
    xml = (
        b'<?xml version="1.0"?><methodResponse><params><param><value><struct>'
        b"<member><name>Status</name><value>Failure</value></member>"
        b"<member><name>ErrorDescription</name><value><array><data>"
        b"<value>HANDLE_INVALID</value><value>VM</value><value>OpaqueRef:x</value>"
        b"</data></array></value></member></struct></value></param></params></methodResponse>"
    )
    errors = []
    for decode, body in (
        (decode_json_response, v1),
        (decode_json_response, v2),
        (decode_xml_response, xml),
    ):
        with pytest.raises(XapiError) as info:
            decode(body)
        errors.append(info.value.details)
    assert errors == [["HANDLE_INVALID", "VM", "OpaqueRef:x"]] * 3


def test_json_success_v1_and_v2():
    assert decode_json_response(b'{"result": 5, "error": null, "id": 1}') == 5
    assert decode_json_response(b'{"jsonrpc": "2.0", "result": [1], "id": 1}') == [1]


@pytest.mark.parametrize("body", [b"not json", b"[1,2]", b'{"id": 1}'])
def test_bad_json_is_a_protocol_error(body):
    with pytest.raises(XapiProtocolError):
        decode_json_response(body)


def test_xml_fault_and_garbage():
    fault = (
        b'<?xml version="1.0"?><methodResponse><fault><value><struct>'
        b"<member><name>faultCode</name><value><int>500</int></value></member>"
        b"<member><name>faultString</name><value>boom</value></member>"
        b"</struct></value></fault></methodResponse>"
    )
    with pytest.raises(XapiError) as info:
        decode_xml_response(fault)
    assert info.value.details == ["XMLRPC_FAULT", "500", "boom"]
    with pytest.raises(XapiProtocolError):
        decode_xml_response(b"<html>")


def test_obfuscation():
    assert obfuscate_params("session.login_with_password", ["root", "pw"], None) == [
        "root",
        "* obfuscated *",
    ]
    assert obfuscate_params("VM.start", ["OpaqueRef:s", "OpaqueRef:vm"], "OpaqueRef:s") == [
        "* obfuscated *",
        "OpaqueRef:vm",
    ]


def test_from_description():
    assert XapiError.from_description([]).code == "INTERNAL_ERROR"
    error = XapiError.from_description(["VM_BAD_POWER_STATE", "r", 1])
    assert error.params == ["r", "1"]


def test_wrapped_causes_are_unwrapped():
    try:
        try:
            raise ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed")
        except ssl.SSLError as inner:
            raise trio.BrokenResourceError() from inner
    except trio.BrokenResourceError as exc:
        assert "certificate" in str(translate_transport_error(exc, "h"))
    try:
        group = ExceptionGroup("attempts", [ConnectionRefusedError(111, "refused")])
        raise OSError("all attempts to connect failed") from group
    except OSError as exc:
        assert "connection refused" in str(translate_transport_error(exc, "h"))
