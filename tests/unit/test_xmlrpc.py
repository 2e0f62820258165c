"""XAPI XML-RPC encoding, checked against CPython's xmlrpc.client as the independent reader."""

from __future__ import annotations

import datetime
import xmlrpc.client

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xo.formats import xmlrpc as x


def _python_reads(body: bytes):  # noqa: ANN202
    (value,), method = xmlrpc.client.loads(body)
    return value, method


def test_success_response_is_wrapped_and_untyped_for_strings_and_int64() -> None:
    body = x.dumps_response_success({"name": "vm", "size": 4294967296, "on": True, "f": 0.5, "l": ["a"]})
    assert body.startswith(b'<?xml version="1.0"?><methodResponse>')
    assert b"<value>4294967296</value>" in body
    assert b"<i8>" not in body and b"<string>" not in body
    value, _ = _python_reads(body)
    assert value == {"Status": "Success", "Value": {"name": "vm", "size": "4294967296", "on": True, "f": 0.5, "l": ["a"]}}


def test_failure_response() -> None:
    value, _ = _python_reads(x.dumps_response_failure(["HANDLE_INVALID", "VM", "OpaqueRef:x"]))
    assert value == {"Status": "Failure", "ErrorDescription": ["HANDLE_INVALID", "VM", "OpaqueRef:x"]}


def test_raw_response_has_no_wrapper() -> None:
    value, _ = _python_reads(x.dumps_raw_response(["VM.get_all_records", "event.from"]))
    assert value == ["VM.get_all_records", "event.from"]


def test_int32_datetime_none_and_void() -> None:
    body = x.dumps_response_success(
        {"count": x.Int32(12), "when": x.DateTime("20250319T04:16:24Z"), "dt": datetime.datetime(2025, 3, 19, 4, 16, 24, tzinfo=datetime.UTC), "nothing": None}
    )
    assert b"<value><i4>12</i4></value>" in body
    assert b"<dateTime.iso8601>20250319T04:16:24Z</dateTime.iso8601>" in body
    value, _ = _python_reads(body)
    assert value["Value"]["count"] == 12
    assert value["Value"]["when"].value == "20250319T04:16:24Z"
    assert value["Value"]["dt"].value == "20250319T04:16:24Z"
    assert value["Value"]["nothing"] == ""


def test_escaping_only_xml_specials_and_control_chars_dropped() -> None:
    text = 'a<b>&"c\'\x01\x1f\tz\n'
    encoded = x.encode_value(text)
    assert encoded == '<value>a&lt;b&gt;&amp;&quot;c\'\tz\n</value>'
    value, _ = _python_reads(x.dumps_response_success(text))
    assert value["Value"] == 'a<b>&"c\'\tz\n'


def test_double_format() -> None:
    assert x.encode_value(0.1) == "<value><double>0.1</double></value>"
    assert x.encode_value(1.0) == "<value><double>1</double></value>"
    assert x.encode_value(True) == "<value><boolean>1</boolean></value>"


def test_loads_request_from_python_client() -> None:
    body = xmlrpc.client.dumps(("OpaqueRef:s", ["vm"], "", 60.1, True, 3, {"k": "v"}), "event.from").encode()
    method, params = x.loads_request(body)
    assert method == "event.from"
    assert params == ["OpaqueRef:s", ["vm"], "", 60.1, True, 3, {"k": "v"}]


def test_loads_request_untyped_and_nil_and_base64() -> None:
    body = (
        b"<?xml version='1.0'?><methodCall><methodName>VM.get_record</methodName><params>"
        b"<param><value>OpaqueRef:s</value></param><param><value><nil/></value></param>"
        b"<param><value><base64>aGVsbG8=</base64></value></param><param><value><i8>9</i8></value></param>"
        b"<param><value></value></param></params></methodCall>"
    )
    assert x.loads_request(body) == ("VM.get_record", ["OpaqueRef:s", None, "hello", 9, ""])


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"not xml",
        b"<methodCall>",
        b"<methodResponse/>",
        b"<methodCall><params/></methodCall>",
        b"<methodCall><methodName>x</methodName><params><param><value><int>zz</int></value></param></params></methodCall>",
        b"<methodCall><methodName>x</methodName><params><param><value><weird/></value></param></params></methodCall>",
        b"<methodCall><methodName>x</methodName><params><param><value><boolean>2</boolean></value></param></params></methodCall>",
    ],
)
def test_garbage_requests_raise_parse_error(garbage: bytes) -> None:
    with pytest.raises(x.XmlRpcParseError):
        x.loads_request(garbage)


def test_client_side_round_trip() -> None:
    body = x.dumps_request("VM.start", ["OpaqueRef:s", "OpaqueRef:vm", False, True])
    method, params = xmlrpc.client.loads(body)[::-1]
    assert method == "VM.start" and params == ("OpaqueRef:s", "OpaqueRef:vm", False, True)
    assert x.loads_response(x.dumps_response_success(["a", 1])) == ["a", "1"]
    assert x.loads_response(x.dumps_raw_response(["m"])) == ["m"]
    with pytest.raises(x.XmlRpcFailure) as error:
        x.loads_response(x.dumps_response_failure(["SESSION_INVALID", "OpaqueRef:s"]))
    assert error.value.description == ["SESSION_INVALID", "OpaqueRef:s"]
    fault = xmlrpc.client.dumps(xmlrpc.client.Fault(500, "boom"), methodresponse=True).encode()
    with pytest.raises(x.XmlRpcFault):
        x.loads_response(fault)


def test_parse_value_fragment() -> None:
    assert x.parse_value_fragment("<value>OpaqueRef:x</value>") == "OpaqueRef:x"
    assert x.parse_value_fragment("<value></value>") == ""
    assert x.parse_value_fragment("") == ""
    assert x.parse_value_fragment(x.encode_value(["OpaqueRef:a", "OpaqueRef:b"])) == ["OpaqueRef:a", "OpaqueRef:b"]


_json_like = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.text(alphabet=st.characters(min_codepoint=32, exclude_characters="\x7f\r", exclude_categories=("Cs",))),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(alphabet="abcxyz_", max_size=6), children, max_size=4),
    max_leaves=20,
)


def _expected(value):  # noqa: ANN001, ANN202
    """What a reader gets back from XAPI's non-strict encoding."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return float(f"{value:.16g}")  # xapi prints doubles with %.16g
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return [_expected(v) for v in value]
    if isinstance(value, dict):
        return {k: _expected(v) for k, v in value.items()}
    return value


@given(_json_like)
def test_round_trip_through_python_and_ourselves(value) -> None:  # noqa: ANN001
    body = x.dumps_response_success(value)
    python_value, _ = _python_reads(body)
    assert python_value["Value"] == _expected(value)
    assert x.loads_response(body) == _expected(value)


def test_large_response_is_fast_enough_to_build() -> None:
    records = {f"OpaqueRef:{n}": {"uuid": str(n), "name_label": f"vm {n}", "memory": 1 << 30, "tags": ["a"], "other": {"k": "v"}} for n in range(10_000)}
    body = x.dumps_response_success(records)
    assert body.count(b"<member><name>uuid</name>") == 10_000


@given(_json_like)
def test_streamed_response_is_the_same_bytes_as_the_whole_one(value) -> None:  # noqa: ANN001
    # tiny pieces, so that every value is cut somewhere
    pieces = list(x.iter_response_success(value, parts=2))
    assert b"".join(pieces) == x.dumps_response_success(value)


def test_large_response_streams_in_bounded_pieces() -> None:
    records = {
        f"OpaqueRef:{n}": {"uuid": str(n), "name_label": f"vm <{n}>", "memory": 1 << 30, "on": n % 2 == 0,
                           "when": x.DateTime("20240102T03:04:05Z"), "tags": ["a"] * (n % 3), "other": {"k": "v"} if n % 2 else {}}
        for n in range(5_000)
    }
    events = {"events": [{"ref": ref, "snapshot": rec} for ref, rec in records.items()], "token": "1,2"}
    for value in (records, events):
        pieces = list(x.iter_response_success(value, parts=1_000))
        assert len(pieces) > 10
        assert max(len(p) for p in pieces) < 200_000
        body = b"".join(pieces)
        assert body == x.dumps_response_success(value)
        assert x.loads_response(body) == x.loads_response(x.dumps_response_success(value))


def test_encoded_fragment_is_embedded_verbatim() -> None:
    events = [{"ref": "OpaqueRef:a", "snapshot": {"n": 1, "on": True}}]
    shared = x.Encoded(x.encode_value(events))
    body = x.dumps_response_success({"events": shared, "token": "t"})
    assert body == x.dumps_response_success({"events": events, "token": "t"})
    assert x.loads_response(body) == {"events": [{"ref": "OpaqueRef:a", "snapshot": {"n": "1", "on": True}}], "token": "t"}
