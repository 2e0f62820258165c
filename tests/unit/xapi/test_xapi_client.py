"""XapiClient over MockTransport: protocols, sessions, redirects, failover, timeouts."""

from __future__ import annotations

import orjson
import pytest
import trio
from xapi_fakes import Fail, FakePool

from xo.xapi import (
    MockTransport,
    Response,
    Timeouts,
    XapiClient,
    XapiError,
    XapiProtocolError,
    XapiTimeout,
    XapiUnreachable,
)
from xo.xapi.errors import OBFUSCATED


async def test_json_rpc_call_returns_result_and_logs_in_with_two_params(pool):
    pool.methods["VM.get_all"] = lambda: ["OpaqueRef:a", "OpaqueRef:b"]
    async with pool.client() as xapi:
        assert await xapi.call("VM.get_all") == ["OpaqueRef:a", "OpaqueRef:b"]
        assert xapi.protocol == "json"
    login = pool.called("session.login_with_password")
    assert login == [["root", "secret"]]
    session = pool.called("VM.get_all")[0][0]
    assert session.startswith("OpaqueRef:session-")
    # aclose logged out
    assert pool.called("session.logout") == [[session]]


async def test_json_rpc_int64_stays_int_and_params_are_sent_as_json(pool):
    pool.methods["VM.set_memory"] = lambda vm, size: {"vm": vm, "size": size}
    async with pool.client() as xapi:
        result = await xapi.call("VM.set_memory", "OpaqueRef:vm", 4294967296)
    assert result == {"vm": "OpaqueRef:vm", "size": 4294967296}


async def test_falls_back_to_xml_rpc_when_reply_is_not_application_json():
    pool = FakePool(protocol="xml")
    pool.methods["host.get_record"] = lambda ref: {"memory": 4294967296, "enabled": True, "x": 1.5}
    async with pool.client() as xapi:
        record = await xapi.call("host.get_record", "OpaqueRef:h")
        methods = await xapi.call("system.listMethods")
        assert xapi.protocol == "xml"
    # XML-RPC: int64 comes back untyped (a string), bools and doubles typed.
    assert record == {"memory": "4294967296", "enabled": True, "x": 1.5}
    assert "VM.get_all_records" in methods
    transport_paths = [r.target for r in xapi.transport.requests]  # type: ignore[attr-defined]
    assert transport_paths[0] == "/jsonrpc"
    assert set(transport_paths[2:]) == {"/"}  # once known, no more JSON attempts


async def test_content_type_with_charset_is_not_json():
    """xen-api's rule: exactly application/json, else XML-RPC."""

    def handler(request):
        if request.target == "/jsonrpc":
            body = orjson.dumps({"jsonrpc": "2.0", "result": "OpaqueRef:s", "id": 0})
            return Response(200, [("content-type", "application/json; charset=utf-8")], body)
        return Response(
            200,
            [("content-type", "text/xml")],
            b'<?xml version="1.0"?><methodResponse><params><param><value><struct>'
            b"<member><name>Status</name><value>Success</value></member>"
            b"<member><name>Value</name><value>OpaqueRef:xml</value></member>"
            b"</struct></value></param></params></methodResponse>",
        )

    xapi = XapiClient("http://h:1", "u", "p", transport=MockTransport(handler))
    await xapi.login()
    assert xapi.session == "OpaqueRef:xml"
    assert xapi.protocol == "xml"


async def test_garbage_reply_is_a_protocol_error():
    def handler(request):
        return Response(500, [("content-type", "text/html")], b"<html>boom</html>")

    xapi = XapiClient("http://h:1", "u", "p", transport=MockTransport(handler))
    with pytest.raises(XapiProtocolError):
        await xapi.login()


async def test_error_carries_code_params_details_method_and_duration(pool):
    def fail(vm):
        raise Fail("VM_BAD_POWER_STATE", vm, "running", "halted")

    pool.methods["VM.clean_shutdown"] = fail
    async with pool.client() as xapi:
        with pytest.raises(XapiError) as info:
            await xapi.call("VM.clean_shutdown", "OpaqueRef:vm")
    error = info.value
    assert error.code == "VM_BAD_POWER_STATE"
    assert error.params == ["OpaqueRef:vm", "running", "halted"]
    assert error.details == ["VM_BAD_POWER_STATE", "OpaqueRef:vm", "running", "halted"]
    assert error.method == "VM.clean_shutdown"
    assert error.duration is not None and error.duration >= 0
    # the session ref is a secret: obfuscated in the recorded params
    assert error.call_params == [OBFUSCATED, "OpaqueRef:vm"]
    assert "VM.clean_shutdown" in str(error)


async def test_login_failure_obfuscates_the_password_and_is_not_retried_elsewhere(pool):
    xapi = pool.client()
    pool.password = "other"
    xapi.set_pool_addresses(pool.hosts)
    with pytest.raises(XapiError) as info:
        await xapi.login()
    assert info.value.code == "SESSION_AUTHENTICATION_FAILED"
    assert info.value.call_params == ["root", OBFUSCATED]
    assert "secret" not in repr(info.value.call_params) + str(info.value)
    assert len(pool.called("session.login_with_password")) == 1


async def test_host_is_slave_on_login_redirects_to_the_master(pool):
    pool.master = "h2:8002"
    pool.methods["pool.get_all"] = lambda: ["OpaqueRef:pool"]
    async with pool.client("http://h1:8001") as xapi:
        assert await xapi.call("pool.get_all") == ["OpaqueRef:pool"]
        assert xapi.origin.netloc == "h2:8002"
    hosts = [host for host, method, _ in pool.calls if method == "session.login_with_password"]
    assert hosts == ["h1:8001", "h2:8002"]


async def test_host_is_slave_on_a_call_moves_to_the_new_master(pool):
    pool.methods["pool.get_all"] = lambda: ["OpaqueRef:pool"]
    async with pool.client() as xapi:
        await xapi.login()
        generation = xapi.session_generation
        pool.master = "h3:8003"  # promoted; the old master now answers HOST_IS_SLAVE
        assert await xapi.call("pool.get_all") == ["OpaqueRef:pool"]
        assert xapi.origin.netloc == "h3:8003"
        assert xapi.session_generation == generation + 1


async def test_failover_tries_other_members_when_the_master_is_down(pool):
    pool.methods["pool.get_all"] = lambda: ["OpaqueRef:pool"]
    xapi = pool.client()
    xapi.set_pool_addresses(pool.hosts)
    await xapi.login()
    # master dies, h3 is promoted; h2 (tried first) redirects to h3
    pool.down.add("h1:8001")
    pool.master = "h3:8003"
    pool.invalidate_sessions()
    await xapi.login()
    assert xapi.origin.netloc == "h3:8003"
    logins = [host for host, m, _ in pool.calls if m == "session.login_with_password"]
    assert logins[1:] == ["h1:8001", "h2:8002", "h3:8003"] or logins[1:] == ["h2:8002", "h3:8003"]


async def test_unreachable_when_no_host_answers(pool):
    pool.down.update(pool.hosts)
    xapi = pool.client()
    xapi.set_pool_addresses(pool.hosts)
    with pytest.raises(XapiUnreachable) as info:
        await xapi.login()
    assert "refused" in str(info.value)
    assert info.value.address == "h1:8001"  # the error of the first attempt


async def test_session_invalid_relogs_in_once_and_retries(pool):
    pool.methods["VM.get_all"] = lambda: []
    async with pool.client() as xapi:
        await xapi.call("VM.get_all")
        first = xapi.session
        pool.invalidate_sessions()
        assert await xapi.call("VM.get_all") == []
        assert xapi.session != first
    assert len(pool.called("session.login_with_password")) == 2


async def test_concurrent_session_invalid_share_one_relogin(pool):
    pool.methods["VM.get_all"] = lambda: []
    async with pool.client() as xapi:
        await xapi.login()
        pool.invalidate_sessions()
        async with trio.open_nursery() as nursery:
            for _ in range(10):
                nursery.start_soon(xapi.call, "VM.get_all")
    assert len(pool.called("session.login_with_password")) == 2


async def test_session_invalid_twice_raises(pool):
    def always_invalid():
        pool.invalidate_sessions()
        raise Fail("SESSION_INVALID", "x")

    pool.methods["VM.get_all"] = always_invalid
    async with pool.client() as xapi:
        with pytest.raises(XapiError) as info:
            await xapi.call("VM.get_all")
    assert info.value.code == "SESSION_INVALID"
    assert "OpaqueRef" not in str(info.value)


async def test_call_timeout_is_a_cancel_scope(pool, autojump_clock):
    async def hang():
        await trio.sleep_forever()

    pool.methods["VM.get_all"] = hang
    async with pool.client(timeouts=Timeouts(call=5.0)) as xapi:
        start = trio.current_time()
        with pytest.raises(XapiTimeout) as info:
            await xapi.call("VM.get_all")
        assert trio.current_time() - start == pytest.approx(5.0)
    assert info.value.method == "VM.get_all"
    assert info.value.duration == pytest.approx(5.0)


async def test_event_from_uses_its_own_timeout_phase(pool, autojump_clock):
    async def long_poll(classes, token, seconds):
        await trio.sleep(seconds)
        return {"events": [], "token": token, "valid_ref_counts": {}}

    pool.methods["event.from"] = long_poll
    async with pool.client(timeouts=Timeouts(call=5.0, event_from=66.0)) as xapi:
        result = await xapi.call("event.from", ["VM"], "t", 60.1)
    assert result["token"] == "t"


async def test_concurrency_is_limited(pool):
    in_flight = 0
    peak = 0

    async def slow():
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await trio.sleep(0.01)
        in_flight -= 1
        return True

    pool.methods["VM.get_all"] = slow
    async with pool.client(max_concurrent_calls=3) as xapi:
        await xapi.login()
        async with trio.open_nursery() as nursery:
            for _ in range(12):
                nursery.start_soon(xapi.call, "VM.get_all")
    assert peak == 3
