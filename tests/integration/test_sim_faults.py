"""Fault injection: dead hosts, master changes, cut event connections, latency, invalid sessions,
through the Python API and the `POST /sim/faults` HTTP endpoint."""

from __future__ import annotations

import http.client
import json
import xmlrpc.client
from urllib.parse import urlsplit

import pytest
import trio


def _proxy(url: str) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy(url)


async def _login(url: str, pool) -> dict:
    return await trio.to_thread.run_sync(
        lambda: _proxy(url).session.login_with_password(pool.username, pool.password)
    )


async def _refused(url: str) -> bool:
    ip, port = urlsplit(url).hostname, urlsplit(url).port
    try:
        stream = await trio.open_tcp_stream(ip, port)
    except OSError:
        return True
    await stream.aclose()
    return False


async def test_stopped_host_refuses_connections_and_restarts_on_the_same_port(sim, sim_pool):
    url = sim_pool.host_urls[1]
    ip, port = urlsplit(url).hostname, urlsplit(url).port
    open_conn = await trio.open_tcp_stream(ip, port)
    await sim.stop_host(1)
    assert await _refused(url)
    with trio.fail_after(5):  # the connection that was open is closed too
        try:
            assert await open_conn.receive_some(10) == b""
        except trio.BrokenResourceError:
            pass
    await open_conn.aclose()
    host_ref = sim_pool.pool.host_refs[1]
    metrics = sim_pool.pool.db.get("host", host_ref)["metrics"]
    assert sim_pool.pool.db.get("host_metrics", metrics)["live"] is False
    await sim.start_host(1)
    assert sim_pool.host_urls[1] == url
    answer = await _login(url, sim_pool)  # a member: it answers HOST_IS_SLAVE, so it is alive
    assert answer["ErrorDescription"][0] == "HOST_IS_SLAVE"
    assert sim_pool.pool.db.get("host_metrics", metrics)["live"] is True


async def test_stopping_the_master_makes_the_pool_unreachable_until_restart(sim, sim_pool):
    master = sim_pool.master_url
    await sim.stop_host(0)
    assert await _refused(master)
    await sim.start_host(0)
    assert (await _login(master, sim_pool))["Status"] == "Success"


async def test_promote_makes_old_master_answer_host_is_slave(sim, sim_pool):
    old = sim_pool.master_url
    new = sim_pool.host_urls[2]
    await sim.promote(2)
    assert sim_pool.master_url == new
    answer = await _login(old, sim_pool)
    assert answer["ErrorDescription"] == ["HOST_IS_SLAVE", urlsplit(new).hostname]
    assert (await _login(new, sim_pool))["Status"] == "Success"


async def test_cut_event_connections_drops_a_blocked_event_from(sim, sim_pool):
    session = (await _login(sim_pool.master_url, sim_pool))["Value"]
    # `from` is a Python keyword: event.from is called with hand-built requests
    body = xmlrpc.client.dumps((session, ["vm"], "", 60.0), "event.from")
    ip, port = urlsplit(sim_pool.master_url).hostname, urlsplit(sim_pool.master_url).port

    def blocking_event_from(first_token: str) -> str:
        conn = http.client.HTTPConnection(ip, port, timeout=30)
        conn.request(
            "POST",
            "/",
            body=xmlrpc.client.dumps((session, ["vm"], first_token, 60.0), "event.from"),
        )
        try:
            conn.getresponse().read()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return "cut"
        return "answered"

    def first_token() -> str:
        conn = http.client.HTTPConnection(ip, port, timeout=30)
        conn.request("POST", "/", body=body)
        (value,), _ = xmlrpc.client.loads(conn.getresponse().read())
        return value["Value"]["token"]

    token = await trio.to_thread.run_sync(first_token)
    async with trio.open_nursery() as nursery:
        outcome: list[str] = []

        async def run() -> None:
            outcome.append(await trio.to_thread.run_sync(blocking_event_from, token))

        nursery.start_soon(run)
        with trio.fail_after(10):
            await sim_pool.hosts[0].long_polls.wait_for_call()
        assert sim.cut_event_connections() == 1
    assert outcome == ["cut"]


async def test_invalidate_sessions(sim, sim_pool):
    session = (await _login(sim_pool.master_url, sim_pool))["Value"]
    sim.invalidate_sessions()
    answer = await trio.to_thread.run_sync(lambda: _proxy(sim_pool.master_url).VM.get_all(session))
    assert answer["ErrorDescription"] == ["SESSION_INVALID", session]


async def _post_fault(url: str, command: dict) -> tuple[int, dict]:
    def post() -> tuple[int, dict]:
        ip, port = urlsplit(url).hostname, urlsplit(url).port
        conn = http.client.HTTPConnection(ip, port, timeout=30)
        conn.request(
            "POST",
            "/sim/faults",
            body=json.dumps(command),
            headers={"Content-Type": "application/json"},
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read())

    return await trio.to_thread.run_sync(post)


async def test_http_fault_endpoint_stops_starts_and_promotes(sim, sim_pool):
    master = sim_pool.master_url
    status, answer = await _post_fault(master, {"action": "stop_host", "host": 1})
    assert status == 200 and answer["ok"] is True
    with trio.fail_after(5):  # the stop is applied right after the reply
        await sim_pool.hosts[1].listener.wait_stopped()
    assert await _refused(sim_pool.host_urls[1])
    status, answer = await _post_fault(master, {"action": "start_host", "host": 1})
    assert status == 200
    assert not await _refused(sim_pool.host_urls[1])
    status, answer = await _post_fault(master, {"action": "promote", "host": 1})
    assert answer["master"] == sim_pool.host_urls[1]
    assert (await _login(master, sim_pool))["ErrorDescription"][0] == "HOST_IS_SLAVE"
    status, answer = await _post_fault(master, {"action": "status"})
    assert answer["pools"][0]["master"] == 1


async def test_http_fault_endpoint_can_stop_the_host_it_is_served_by(sim, sim_pool):
    status, answer = await _post_fault(sim_pool.host_urls[2], {"action": "stop_host", "host": 2})
    assert status == 200 and answer["ok"]
    with trio.fail_after(5):
        await sim_pool.hosts[2].listener.wait_stopped()
    assert await _refused(sim_pool.host_urls[2])


@pytest.mark.parametrize(
    "command",
    [
        {"action": "explode"},
        {"action": "stop_host"},
        {"action": "stop_host", "host": 9},
        {"pool": 4, "action": "status"},
    ],
)
async def test_http_fault_endpoint_rejects_bad_commands(sim_pool, command):
    status, answer = await _post_fault(sim_pool.master_url, command)
    assert status == 400 and answer["ok"] is False and answer["error"]


async def test_http_fault_endpoint_latency_and_sessions(sim, sim_pool):
    session = (await _login(sim_pool.master_url, sim_pool))["Value"]
    await _post_fault(sim_pool.master_url, {"action": "latency", "seconds": 0.2})
    assert sim_pool.pool.faults.latency == 0.2
    await _post_fault(sim_pool.master_url, {"action": "latency", "seconds": 0})
    await _post_fault(sim_pool.master_url, {"action": "invalidate_sessions"})
    answer = await trio.to_thread.run_sync(lambda: _proxy(sim_pool.master_url).VM.get_all(session))
    assert answer["ErrorDescription"][0] == "SESSION_INVALID"


async def test_stopping_a_host_mid_export_closes_the_stream_and_fails_the_task(
    sim, sim_pool, xenapi
):
    session = xenapi.session._session
    db = sim_pool.pool.db
    master = sim_pool.pool.master_ref

    def on_master(vm: dict) -> bool:  # every disk readable here: no redirect to another host
        srs = [
            db.get("VDI", db.get("VBD", v)["VDI"])["SR"]
            for v in vm["VBDs"]
            if db.get("VBD", v)["type"] == "Disk"
        ]
        return bool(srs) and all(
            db.get("SR", sr)["shared"]
            or db.get("PBD", db.get("SR", sr)["PBDs"][0])["host"] == master
            for sr in srs
        )

    vm = next(
        ref for ref, r in db.all("VM").items()
        if r["power_state"] == "Halted" and not r["is_a_template"] and not r["is_control_domain"] and on_master(r)
    )  # fmt: skip
    task = await xenapi.call("task.create", "export", "")
    sim.set_bandwidth(1 << 20)  # slow enough to be cut in the middle
    ip, port = urlsplit(sim_pool.master_url).hostname, urlsplit(sim_pool.master_url).port
    received = 0
    with trio.fail_after(30):
        async with await trio.open_tcp_stream(ip, port) as stream:
            await stream.send_all(
                f"GET /export?session_id={session}&ref={vm}&task_id={task} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
            )
            received += len(await stream.receive_some(65536))
            await sim.stop_host(0)
            try:
                while chunk := await stream.receive_some(65536):
                    received += len(chunk)
            except trio.BrokenResourceError:
                pass
    sim.set_bandwidth(None)
    record = sim_pool.pool.db.get("task", task)
    assert record["status"] == "failure"
    assert sim_pool.pool.db.get("VM", vm)["current_operations"] == {}
    await sim.start_host(0)
