"""The simulated hosts' HTTP surface: XML-RPC on any POST path, JSON-RPC v1/v2, headers, limits,
keep-alive, routing (reference xapi.md §1)."""

from __future__ import annotations

import json
import xmlrpc.client
from urllib.parse import urlsplit

import trio

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
