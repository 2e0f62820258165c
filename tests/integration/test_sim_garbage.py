"""Garbage in: XAPI's error or an HTTP error, never a crash, and the host keeps serving everyone."""

from __future__ import annotations

import json
import random
import xmlrpc.client
from urllib.parse import urlsplit

import trio
import XenAPI


async def _still_serving(sim_pool, http_request) -> None:
    body = xmlrpc.client.dumps(
        (sim_pool.username, sim_pool.password), "session.login_with_password"
    )
    for url in sim_pool.host_urls[:1]:
        reply = await http_request("POST", url + "/", body=body.encode())
        (value,), _ = xmlrpc.client.loads(reply.body)
        assert value["Status"] == "Success"


async def _raw_exchange(url: str, data: bytes, *, read_timeout: float = 5) -> bytes:
    """Send raw bytes, return everything the host answered before closing (or going quiet)."""
    ip, port = urlsplit(url).hostname, urlsplit(url).port
    received = b""
    async with await trio.open_tcp_stream(ip, port) as stream:
        try:
            await stream.send_all(data)
        except trio.BrokenResourceError:
            return received
        with trio.move_on_after(read_timeout):
            while True:
                try:
                    chunk = await stream.receive_some(65536)
                except trio.BrokenResourceError:
                    break
                if not chunk:
                    break
                received += chunk
    return received


async def test_malformed_xml_is_http_500(sim_pool, http_request):
    for body in (b"<methodCall><methodName>VM.get_all", b"not xml at all", b"", b"<a/>"):
        reply = await http_request("POST", sim_pool.master_url + "/", body=body)
        assert reply.status == 500, body
    await _still_serving(sim_pool, http_request)


async def test_malformed_json_is_http_500(sim_pool, http_request):
    for body in (b"{", b"[1, 2]", b'{"method": 3, "id": 1}', b'{"method": "x"}', b"\xff\xfe"):
        reply = await http_request("POST", sim_pool.master_url + "/jsonrpc", body=body)
        assert reply.status == 500, body
    await _still_serving(sim_pool, http_request)


async def test_api_garbage_gets_xapi_errors(xenapi, sim_pool):
    async def failure(method: str, *args: object) -> list[str]:
        try:
            await xenapi.call(method, *args)
        except XenAPI.Failure as exc:
            return exc.details
        raise AssertionError(f"{method} succeeded")

    assert (await failure("VM.get_record", "OpaqueRef:unknown")) == [
        "HANDLE_INVALID",
        "VM",
        "OpaqueRef:unknown",
    ]
    details = await failure("VM.get_record")
    assert details[0] == "MESSAGE_PARAMETER_COUNT_MISMATCH" and details[1] == "VM.get_record"
    assert (await failure("VM.no_such_message", "x")) == [
        "MESSAGE_METHOD_UNKNOWN",
        "VM.no_such_message",
    ]
    details = await failure("VM.get_by_uuid", "not-a-uuid")
    assert details[0] == "UUID_INVALID"


async def test_random_bytes_on_the_socket_get_400_or_close(sim_pool, http_request):
    rng = random.Random(42)
    for size in (1, 17, 512, 4096, 70_000):
        garbage = bytes(rng.randrange(256) for _ in range(size))
        answer = await _raw_exchange(sim_pool.master_url, garbage + b"\r\n\r\n", read_timeout=2)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer[:80]
    await _still_serving(sim_pool, http_request)


async def test_bad_request_lines_and_headers(sim_pool, http_request):
    cases = [
        b"GET\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"PUT /import HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 100_000 + b"\r\n\r\n",
    ]
    for raw in cases:
        answer = await _raw_exchange(sim_pool.master_url, raw, read_timeout=2)
        assert (
            answer.startswith(b"HTTP/1.1 4") or answer.startswith(b"HTTP/1.1 5") or answer == b""
        ), raw[:40]
    await _still_serving(sim_pool, http_request)


async def test_client_vanishing_mid_request_does_not_hurt_others(sim_pool, http_request):
    ip, port = urlsplit(sim_pool.master_url).hostname, urlsplit(sim_pool.master_url).port
    for partial in (b"POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n<method", b"POST / HT"):
        stream = await trio.open_tcp_stream(ip, port)
        await stream.send_all(partial)
        await stream.aclose()
    await _still_serving(sim_pool, http_request)


async def test_slow_garbage_connections_do_not_block_good_clients(sim_pool, http_request):
    ip, port = urlsplit(sim_pool.master_url).hostname, urlsplit(sim_pool.master_url).port
    idle = [await trio.open_tcp_stream(ip, port) for _ in range(20)]
    try:
        for stream in idle:
            await stream.send_all(b"POST / HTTP/1.1\r\nContent-Length: 99999\r\n\r\n<")
        with trio.fail_after(10):
            await _still_serving(sim_pool, http_request)
    finally:
        for stream in idle:
            await stream.aclose()


async def test_truncated_uploads_fail_their_task_and_create_nothing(sim_pool, http_request, xenapi):
    ip, port = urlsplit(sim_pool.master_url).hostname, urlsplit(sim_pool.master_url).port
    session = xenapi.session._session
    db = sim_pool.pool.db
    vdi = next(ref for ref, r in db.all("VDI").items() if db.get("SR", r["SR"])["shared"])
    before = {cls: set(db.all(cls)) for cls in ("VM", "VDI", "VBD", "VIF", "pool_patch")}
    for path in (
        f"/import?session_id={session}",
        f"/import_raw_vdi?format=vhd&vdi={vdi}&session_id={session}",
        f"/pool_patch_upload?session_id={session}",
    ):
        head = f"PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
        answer = b""
        with trio.fail_after(10):
            async with await trio.open_tcp_stream(ip, port) as stream:
                await stream.send_all(head.encode() + b"\x00\x01" * 500)
                while b"\r\n\r\n" not in answer:
                    answer += await stream.receive_some(4096)
            # the client vanished after 1000 of 100000 bytes: the task must fail
            assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:60]
            task = next(
                line.split(b":", 1)[1].strip().decode()
                for line in answer.split(b"\r\n")
                if line.lower().startswith(b"task-id:")
            )
            while db.get("task", task)["status"] == "pending":
                await db.changed().wait()
        assert db.get("task", task)["status"] == "failure", path
    assert {cls: set(db.all(cls)) for cls in before} == before
    await _still_serving(sim_pool, http_request)


async def test_jsonrpc_with_wrong_param_types_gets_an_api_error(sim_pool, http_request):
    url = sim_pool.master_url + "/jsonrpc"
    call = {
        "jsonrpc": "2.0",
        "method": "session.login_with_password",
        "params": [1, {"a": 2}],
        "id": 1,
    }
    answer = json.loads((await http_request("POST", url, body=json.dumps(call).encode())).body)
    assert answer["error"]["code"] == 1
    assert answer["error"]["message"] in ("SESSION_AUTHENTICATION_FAILED", "INTERNAL_ERROR")
    await _still_serving(sim_pool, http_request)
