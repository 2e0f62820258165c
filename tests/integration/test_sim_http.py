"""The simulated hosts' HTTP surface: XML-RPC on any POST path, JSON-RPC v1/v2, headers, limits,
keep-alive, routing (reference xapi.md §1)."""

from __future__ import annotations

import json
import xmlrpc.client
from urllib.parse import urlsplit

import trio
import XenAPI

from xo.sim.net.rpc import RPC_BODY_LIMIT


def _xml_call(method: str, *params: object) -> bytes:
    return xmlrpc.client.dumps(params, method).encode()


async def _login_xml(http_request, url: str, pool) -> str:
    reply = await http_request(
        "POST",
        url + "/",
        body=_xml_call("session.login_with_password", pool.username, pool.password),
    )
    (value,), _ = xmlrpc.client.loads(reply.body)
    assert value["Status"] == "Success"
    return value["Value"]


async def test_xmlrpc_answers_on_root_rpc2_and_any_unclaimed_post_path(sim_pool, http_request):
    for path in ("/", "/RPC2", "/xmlrpc", "/some/where/else"):
        reply = await http_request(
            "POST",
            sim_pool.master_url + path,
            body=_xml_call("session.login_with_password", sim_pool.username, sim_pool.password),
        )
        assert reply.status == 200
        assert reply.headers["content-type"] == "text/xml"
        assert reply.headers["access-control-allow-origin"] == "*"
        (value,), _ = xmlrpc.client.loads(reply.body)
        assert value["Status"] == "Success"
        assert value["Value"].startswith("OpaqueRef:")


async def test_xmlrpc_failure_uses_status_wrapper_with_http_200(sim_pool, http_request):
    reply = await http_request(
        "POST", sim_pool.master_url + "/", body=_xml_call("VM.get_all", "OpaqueRef:nope")
    )
    assert reply.status == 200
    (value,), _ = xmlrpc.client.loads(reply.body)
    assert value == {"Status": "Failure", "ErrorDescription": ["SESSION_INVALID", "OpaqueRef:nope"]}


async def test_system_list_methods_has_no_status_wrapper(sim_pool, http_request):
    reply = await http_request(
        "POST", sim_pool.master_url + "/", body=_xml_call("system.listMethods")
    )
    (value,), _ = xmlrpc.client.loads(reply.body)
    assert isinstance(value, list)
    assert "VM.get_all_records" in value


async def test_jsonrpc_v2_success_and_error_shapes(sim_pool, http_request):
    url = sim_pool.master_url + "/jsonrpc"
    login = {
        "jsonrpc": "2.0",
        "method": "session.login_with_password",
        "params": [sim_pool.username, sim_pool.password],
        "id": 7,
    }
    reply = await http_request(
        "POST", url, body=json.dumps(login).encode(), headers={"Content-Type": "application/json"}
    )
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"  # exactly: xen-api checks it
    assert reply.headers["access-control-allow-origin"] == "*"
    answer = json.loads(reply.body)
    assert answer["jsonrpc"] == "2.0" and answer["id"] == 7
    session = answer["result"]
    bad = {
        "jsonrpc": "2.0",
        "method": "VM.get_record",
        "params": [session, "OpaqueRef:x"],
        "id": "a",
    }
    answer = json.loads((await http_request("POST", url, body=json.dumps(bad).encode())).body)
    assert answer == {
        "jsonrpc": "2.0",
        "error": {"code": 1, "message": "HANDLE_INVALID", "data": ["VM", "OpaqueRef:x"]},
        "id": "a",
    }


async def test_jsonrpc_v1_shapes_and_int64_as_numbers(sim_pool, http_request):
    url = sim_pool.master_url + "/jsonrpc"
    call = {
        "method": "session.login_with_password",
        "params": [sim_pool.username, sim_pool.password],
        "id": 1,
    }
    answer = json.loads((await http_request("POST", url, body=json.dumps(call).encode())).body)
    assert answer["error"] is None and answer["id"] == 1
    session = answer["result"]
    call = {"method": "VM.get_all_records", "params": [session], "id": 2}
    records = json.loads((await http_request("POST", url, body=json.dumps(call).encode())).body)[
        "result"
    ]
    vm = next(iter(records.values()))
    assert isinstance(vm["memory_static_max"], int)  # int64 is a JSON number, not a string
    assert isinstance(vm["power_state"], str)
    call = {"method": "VM.get_all", "params": ["OpaqueRef:bad"], "id": 3}
    answer = json.loads((await http_request("POST", url, body=json.dumps(call).encode())).body)
    assert answer == {"result": None, "error": ["SESSION_INVALID", "OpaqueRef:bad"], "id": 3}


async def test_a_session_from_xmlrpc_works_over_jsonrpc(sim_pool, http_request):
    session = await _login_xml(http_request, sim_pool.master_url, sim_pool)
    call = {"jsonrpc": "2.0", "method": "pool.get_all", "params": [session], "id": 1}
    reply = await http_request(
        "POST", sim_pool.master_url + "/jsonrpc", body=json.dumps(call).encode()
    )
    assert len(json.loads(reply.body)["result"]) == 1


async def test_rpc_bodies_over_300_kib_are_refused_and_the_host_keeps_serving(
    sim_pool, http_request
):
    huge = b"<?xml version='1.0'?><methodCall>" + b" " * (RPC_BODY_LIMIT + 1) + b"</methodCall>"
    reply = await http_request("POST", sim_pool.master_url + "/", body=huge)
    assert reply.status == 413
    assert (await _login_xml(http_request, sim_pool.master_url, sim_pool)).startswith("OpaqueRef:")


async def test_cors_preflight(sim_pool, http_request):
    reply = await http_request("OPTIONS", sim_pool.master_url + "/jsonrpc")
    assert reply.status == 200
    assert reply.headers["access-control-allow-origin"] == "*"


async def test_unknown_get_path_is_404(sim_pool, http_request):
    reply = await http_request("GET", sim_pool.master_url + "/no/such/handler")
    assert reply.status == 404


async def test_keep_alive_serves_many_requests_on_one_connection(sim_pool):
    ip, port = urlsplit(sim_pool.master_url).hostname, urlsplit(sim_pool.master_url).port
    stream = await trio.open_tcp_stream(ip, port)
    body = _xml_call("session.login_with_password", sim_pool.username, sim_pool.password)
    request = (
        f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    async with stream:
        with trio.fail_after(10):
            for _ in range(3):
                await stream.send_all(request)
                received = b""
                while b"</methodResponse>" not in received:
                    data = await stream.receive_some(65536)
                    assert data, "the host closed a keep-alive connection"
                    received += data
                assert received.startswith(b"HTTP/1.1 200 OK\r\n")
                assert b"Success" in received


async def test_pipelined_requests_are_answered_in_order(sim_pool):
    ip, port = urlsplit(sim_pool.master_url).hostname, urlsplit(sim_pool.master_url).port
    bodies = [_xml_call("system.isAlive", f"probe-{i}") for i in range(3)]
    raw = b"".join(
        f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(b)}\r\n\r\n".encode() + b
        for b in bodies
    )
    async with await trio.open_tcp_stream(ip, port) as stream:
        await stream.send_all(raw)
        received = b""
        with trio.fail_after(10):
            while received.count(b"</methodResponse>") < 3:
                data = await stream.receive_some(65536)
                assert data
                received += data
    positions = [received.index(f"probe-{i}".encode()) for i in range(3)]
    assert positions == sorted(positions)


async def test_latency_fault_delays_every_rpc(sim, sim_pool, http_request):
    sim.set_latency(0.3)
    start = trio.current_time()
    await _login_xml(http_request, sim_pool.master_url, sim_pool)
    assert trio.current_time() - start >= 0.3
    sim.set_latency(0)


async def test_a_large_xmlrpc_answer_is_streamed_and_reads_like_a_small_one(sim_factory, http_request):
    async with sim_factory(hosts=1, vms=120) as big:
        pool = big.pools[0]
        session = await _login_xml(http_request, pool.master_url, pool)
        small = await http_request("POST", pool.master_url + "/", body=_xml_call("VM.get_all", session))
        # usual answers keep xapi's Content-Length
        assert small.headers["content-length"] == str(len(small.body))
        reply = await http_request(
            "POST", pool.master_url + "/", body=_xml_call("VM.get_all_records", session)
        )
        assert reply.status == 200 and reply.headers["content-type"] == "text/xml"
        # sent while encoded: chunked, no Content-Length
        assert reply.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in reply.headers
        (value,), _ = xmlrpc.client.loads(reply.body)
        records = value["Value"]
        model = pool.pool.db.all("VM")
        assert set(records) == set(model) and len(records) > 120
        ref = sorted(model)[0]
        assert records[ref]["uuid"] == model[ref]["uuid"]
        assert records[ref]["memory_static_max"] == str(model[ref]["memory_static_max"])

        def with_xenapi() -> tuple[int, int]:
            # the real client on one keep-alive connection: a streamed answer, then another
            session = XenAPI.Session(pool.master_url)
            session.xenapi.login_with_password(pool.username, pool.password, "1.0", "tests")
            try:
                first = session.xenapi.VM.get_all_records()
                second = session.xenapi.VDI.get_all_records()
                return len(first), len(second)
            finally:
                session.xenapi.session.logout()

        vms, vdis = await trio.to_thread.run_sync(with_xenapi)
        assert vms == len(model) and vdis == len(pool.pool.db.all("VDI"))


async def test_event_from_subscribers_at_one_token_share_one_encoding(sim_pool, http_request):
    url = sim_pool.master_url
    pool = sim_pool.pool

    async def json_call(method: str, params: list) -> dict:
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": 1})
        reply = await http_request("POST", url + "/jsonrpc", body=body.encode())
        return json.loads(reply.body)["result"]

    sessions = [
        await json_call("session.login_with_password", [sim_pool.username, sim_pool.password])
        for _ in range(3)
    ]
    token = (await json_call("event.from", [sessions[0], ["pool"], "", 0.0]))["token"]
    vm = next(ref for ref, rec in pool.db.all("VM").items() if not rec["is_a_template"])
    pool.db.update("VM", vm, name_description="shared encoding")
    xml_session = await _login_xml(http_request, url, sim_pool)
    answers = [await json_call("event.from", [s, ["vm"], token, 5.0]) for s in sessions]
    xml = await http_request(
        "POST", url + "/", body=_xml_call("event.from", xml_session, ["vm"], token, 5.0)
    )
    (xml_value,), _ = xmlrpc.client.loads(xml.body)
    for answer in answers + [xml_value["Value"]]:
        (event,) = answer["events"]
        assert event["ref"] == vm and event["operation"] == "mod"
        assert event["snapshot"]["name_description"] == "shared encoding"
    assert answers[0] == answers[1] == answers[2]
    assert xml_value["Value"]["token"] == answers[0]["token"]
