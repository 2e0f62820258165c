"""xapi-sim: disk export throughput, event.from fan-out, get_all_records load (issue 2).

Everything runs in this process, in one trio loop, over 127.0.0.1 sockets:

- exports: ``GET /export_raw_vdi?format=raw`` and ``GET /export`` (XVA) of a VM whose only disk is
  2 GiB (``XO_BENCH_QUICK=1``: 256 MiB), once dense (every 1 MiB block holds generated data: the
  DiskStore's generated-block count is raised for that disk) and once as the sim makes disks
  (sparse: a few generated blocks). Baseline: a bare trio socket sending the same number of
  bytes over loopback to the same client code.
- event.from: 100 sessions long-polling ``event.from(["vm"], token, 60)`` while 10,000 VMs change
  once each (one burst of ``db.update``); time until every subscriber saw every change. In
  process (``SimPool.rpc``, no encoding) and over HTTP (JSON-RPC and XML-RPC, fewer changes:
  each answer carries every changed VM record to every subscriber). Baseline: one subscriber.
- load: ``<class>.get_all_records`` of every class xo-server loads, for a 10,000-VM pool, over
  JSON-RPC and XML-RPC (body bytes counted, not decoded). Baseline: ``orjson.dumps`` of the same
  records in process.
"""

from __future__ import annotations

import re
import time
from functools import partial
from typing import Any

import orjson
import trio

import xo.sim.disks as sim_disks
from bench._common import GiB, MiB, env_int, quick, xapi_json_default
from bench._http import RECEIVE_BYTES, Connection
from bench.report import Row, print_table
from xo.formats import xmlrpc
from xo.objects.pool_records import PoolRecords
from xo.sim.serve import RunningPool, open_sim

SUBSCRIBERS = 100


# -- exports ------------------------------------------------------------------------------------


def _vm_with_one_disk(pool: Any, size: int, *, dense: bool) -> tuple[str, str]:
    """A halted VM on shared storage whose only disk is a new ``size``-byte VDI: (VM, VDI)."""
    db = pool.db
    sr = db.get("pool", pool.pool_ref)["default_SR"]
    vm_ref = next(
        ref
        for ref, vm in sorted(db.all("VM").items())
        if vm["power_state"] == "Halted" and not vm["is_a_template"] and not vm["is_control_domain"]
        and not vm["is_a_snapshot"]
    )  # fmt: skip
    for vbd in list(db.get("VM", vm_ref)["VBDs"]):
        if db.get("VBD", vbd)["type"] == "Disk":
            db.destroy("VBD", vbd)
    vdi_ref = pool.create_vdi(sr, size, name_label="bench disk")
    pool.disks.destroy(vdi_ref)
    saved = sim_disks.GENERATED_BLOCKS
    if dense:
        sim_disks.GENERATED_BLOCKS = size // sim_disks.BLOCK  # every block holds data
    try:
        pool.disks.create(vdi_ref, size)
    finally:
        sim_disks.GENERATED_BLOCKS = saved
    db.create(
        "VBD",
        {"VM": vm_ref, "VDI": vdi_ref, "type": "Disk", "mode": "RW", "userdevice": "0",
         "bootable": True},
    )  # fmt: skip
    return vm_ref, vdi_ref


async def _download(url: str, path: str) -> tuple[float, int]:
    connection = await Connection.open(url)
    try:
        started = time.perf_counter()
        response = await connection.request("GET", path, keep=False)
        elapsed = time.perf_counter() - started
    finally:
        await connection.aclose()
    if response.status != 200:
        raise RuntimeError(f"GET {path}: HTTP {response.status}")
    return elapsed, response.length


async def _raw_socket(nbytes: int) -> float:
    """Seconds for a bare trio server to send ``nbytes`` to a reader counting them."""
    chunk = bytes(range(256)) * (MiB // 256)

    async def sender(stream: trio.SocketStream) -> None:
        left = nbytes
        while left > 0:
            piece = chunk if left >= len(chunk) else chunk[:left]
            await stream.send_all(piece)
            left -= len(piece)
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        (listener,) = await nursery.start(partial(trio.serve_tcp, sender, 0, host="127.0.0.1"))
        port = listener.socket.getsockname()[1]
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        started = time.perf_counter()
        got = 0
        while data := await stream.receive_some(RECEIVE_BYTES):
            got += len(data)
        elapsed = time.perf_counter() - started
        await stream.aclose()
        nursery.cancel_scope.cancel()
    assert got == nbytes, (got, nbytes)
    return elapsed


async def bench_exports(size: int) -> list[Row]:
    rows: list[Row] = []
    async with open_sim(vms=4, hosts=1) as sim:
        running: RunningPool = sim.pools[0]
        pool = running.pool
        session = await pool.login(running.username, running.password, on_host=pool.master_ref)
        for dense in (True, False):
            vm_ref, vdi_ref = _vm_with_one_disk(pool, size, dense=dense)
            kind = "dense" if dense else "sparse"
            cases = [
                ("raw", f"/export_raw_vdi?session_id={session}&vdi={vdi_ref}&format=raw"),
                ("XVA", f"/export?session_id={session}&ref={vm_ref}"),
            ]
            for name, path in cases:
                elapsed, length = await _download(running.master_url, path)
                raw_elapsed = min([await _raw_socket(length) for _ in range(2)])
                rows.append(
                    Row(
                        f"{name} export, {size // MiB} MiB {kind} disk",
                        length / MiB / elapsed,
                        "MiB/s",
                        length / MiB / raw_elapsed,
                        f"bare trio socket, same {length / MiB:.0f} MiB over loopback (best of 2)",
                        ">= 0.5 x baseline",
                    )
                )
    return rows


# -- event.from ---------------------------------------------------------------------------------


async def _fan_out(
    call: Any, sessions: list[str], token: str, changed: set[str], make_changes: Any
) -> float:
    """Seconds from the change burst until every session saw a ``mod`` of every changed ref."""
    waiting = trio.Semaphore(0)
    done = 0
    all_done = trio.Event()

    async def subscriber(session: str) -> None:
        nonlocal done
        seen: set[str] = set()
        current = token
        first = True
        while len(seen) < len(changed):
            if first:
                waiting.release()
                first = False
            result = await call("event.from", [session, ["vm"], current, 60.0])
            for event in result["events"]:
                if event["operation"] == "mod" and event["ref"] in changed:
                    seen.add(event["ref"])
            current = result["token"]
        done += 1
        if done == len(sessions):
            all_done.set()

    async with trio.open_nursery() as nursery:
        for session in sessions:
            nursery.start_soon(subscriber, session)
        for _ in sessions:
            await waiting.acquire()
        await trio.sleep(0.2)  # every subscriber is now parked in its long poll
        started = time.perf_counter()
        make_changes()
        with trio.fail_after(600):
            await all_done.wait()
        return time.perf_counter() - started


_XML_TOKEN = re.compile(rb"<name>token</name>\s*<value>(?:<string>)?([^<]*)<")
_XML_REF = re.compile(rb"<name>ref</name>\s*<value>(?:<string>)?([^<]*)<")


_JSON_TOKEN = re.compile(rb'"token":"([^"]*)"')
_JSON_MOD_REF = re.compile(rb'"operation":"mod","ref":"([^"]*)"')


def _scan_json_events(body: bytes) -> dict[str, Any]:
    """The JSON-RPC twin of `_scan_xml_events`: scanned, not decoded, so both protocols' rows
    measure the simulator rather than this client. The answer's own token comes last."""
    tokens = _JSON_TOKEN.findall(body)
    if not tokens:
        raise RuntimeError(f"event.from failed: {body[:300]!r}")
    events = [{"operation": "mod", "ref": ref.decode()} for ref in _JSON_MOD_REF.findall(body)]
    return {"events": events, "token": tokens[-1].decode()}


def _scan_xml_events(body: bytes) -> dict[str, Any]:
    """The refs and token of an XML-RPC event.from answer, without decoding the snapshots (a
    Python XML-RPC decoder in this process would make the measure about the client)."""
    token = _XML_TOKEN.search(body)
    if token is None:
        raise RuntimeError(f"event.from failed: {body[:300]!r}")
    events = [{"operation": "mod", "ref": ref.decode()} for ref in _XML_REF.findall(body)]
    return {"events": events, "token": token.group(1).decode()}


async def _http_caller(running: RunningPool, protocol: str) -> Any:
    connection = await Connection.open(running.master_url)

    async def call(method: str, params: list) -> Any:
        if protocol == "json":
            body = orjson.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": 1})
            response = await connection.request("POST", "/jsonrpc", body)
            if method == "event.from" and b'"error"' not in response.body[:64]:
                return _scan_json_events(response.body)
            answer = orjson.loads(response.body)
            if "error" in answer:
                raise RuntimeError(answer["error"])
            return answer["result"]
        response = await connection.request("POST", "/", xmlrpc.dumps_request(method, params))
        if method != "event.from":
            return xmlrpc.loads_response(response.body)
        return _scan_xml_events(response.body)

    return call


async def bench_events(vms: int, http_changes: int) -> list[Row]:
    rows: list[Row] = []
    async with open_sim(vms=vms, hosts=2) as sim:
        running = sim.pools[0]
        pool = running.pool
        master = pool.master_ref
        db = pool.db

        async def rpc(method: str, params: list) -> Any:
            return await pool.rpc(method, params, on_host=master)

        guests = sorted(
            ref
            for ref, vm in db.all("VM").items()
            if not vm["is_a_template"] and not vm["is_control_domain"] and not vm["is_a_snapshot"]
        )
        counter = 0

        def burst(refs: list[str]) -> Any:
            def run() -> None:
                nonlocal counter
                counter += 1
                for ref in refs:
                    db.update("VM", ref, name_description=f"bench change {counter}")

            return run

        async def in_process(subscribers: int, refs: list[str]) -> float:
            sessions = [
                await pool.login(running.username, running.password, on_host=master)
                for _ in range(subscribers)
            ]
            token = (await rpc("event.from", [sessions[0], ["pool"], "", 0.0]))["token"]
            return await _fan_out(rpc, sessions, token, set(refs), burst(refs))

        async def over_http(protocol: str, subscribers: int, refs: list[str]) -> float:
            callers = [await _http_caller(running, protocol) for _ in range(subscribers)]
            sessions = [
                await c("session.login_with_password", [running.username, running.password])
                for c in callers
            ]
            token = (await callers[0]("event.from", [sessions[0], ["pool"], "", 0.0]))["token"]
            by_session = dict(zip(sessions, callers, strict=True))

            async def call(method: str, params: list) -> Any:
                return await by_session[params[0]](method, params)

            return await _fan_out(call, sessions, token, set(refs), burst(refs))

        changes = guests[:vms]
        one = await in_process(1, changes)
        many = await in_process(SUBSCRIBERS, changes)
        n = len(changes)
        rows.append(
            Row(
                f"event.from in process: {n} changes x {SUBSCRIBERS} subscribers",
                many,
                "s",
                one,
                f"{n} changes x 1 subscriber",
                f"{n * SUBSCRIBERS / many:,.0f} deliveries/s",
            )
        )
        small = guests[:http_changes]
        one_local = await in_process(SUBSCRIBERS, small)
        for protocol, label in (("json", "JSON-RPC"), ("xml", "XML-RPC")):
            elapsed = await over_http(protocol, SUBSCRIBERS, small)
            rows.append(
                Row(
                    f"event.from {label}: {len(small)} changes x {SUBSCRIBERS}",
                    elapsed,
                    "s",
                    one_local,
                    "the same in process (no HTTP, no encoding)",
                    f"{len(small) * SUBSCRIBERS / elapsed:,.0f} deliveries/s",
                )
            )
    return rows


# -- get_all_records ----------------------------------------------------------------------------


async def bench_load(vms: int) -> list[Row]:
    rows: list[Row] = []
    async with open_sim(vms=vms, hosts=2) as sim:
        running = sim.pools[0]
        pool = running.pool
        classes = PoolRecords.CLASSES
        started = time.perf_counter()
        baseline_bytes = sum(
            len(orjson.dumps(dict(pool.db.all(cls)), default=xapi_json_default)) for cls in classes
        )
        baseline = time.perf_counter() - started
        for protocol, label in (("json", "JSON-RPC"), ("xml", "XML-RPC")):
            connection = await Connection.open(running.master_url)
            try:
                if protocol == "json":
                    login = orjson.dumps(
                        {"jsonrpc": "2.0", "method": "session.login_with_password",
                         "params": [running.username, running.password], "id": 0}
                    )  # fmt: skip
                    reply = await connection.request("POST", "/jsonrpc", login)
                    session = orjson.loads(reply.body)["result"]
                    bodies = [
                        ("/jsonrpc", orjson.dumps(
                            {"jsonrpc": "2.0", "method": f"{cls}.get_all_records",
                             "params": [session], "id": 1}))
                        for cls in classes
                    ]  # fmt: skip
                else:
                    reply = await connection.request(
                        "POST", "/", xmlrpc.dumps_request(
                            "session.login_with_password", [running.username, running.password])
                    )  # fmt: skip
                    session = xmlrpc.loads_response(reply.body)
                    bodies = [
                        ("/", xmlrpc.dumps_request(f"{cls}.get_all_records", [session]))
                        for cls in classes
                    ]
                total = 0
                started = time.perf_counter()
                for path, body in bodies:
                    response = await connection.request("POST", path, body, keep=False)
                    if response.status != 200:
                        raise RuntimeError(f"{label}: HTTP {response.status}")
                    total += response.length
                elapsed = time.perf_counter() - started
            finally:
                await connection.aclose()
            rows.append(
                Row(
                    f"get_all_records {label}, {len(classes)} classes",
                    elapsed,
                    "s",
                    baseline,
                    f"orjson.dumps of the same records ({baseline_bytes / MiB:.1f} MiB)",
                )
            )
            rows.append(Row(f"  {label} body bytes", total / MiB, "MiB", baseline_bytes / MiB))
    return rows


async def run_all() -> None:
    small = quick()
    size = env_int("BENCH_SIM_DISK_MIB", 64 if small else 2048) * MiB
    vms = env_int("BENCH_SIM_VMS", 1000 if small else 10_000)
    http_changes = env_int("BENCH_SIM_HTTP_CHANGES", 50 if small else 200)
    print_table(f"sim exports over loopback ({size / GiB:.2f} GiB disk)", await bench_exports(size))
    print_table(
        f"sim event.from fan-out ({vms} VMs, {SUBSCRIBERS} subscribers)",
        await bench_events(vms, http_changes),
    )
    print_table(f"sim get_all_records load ({vms} VMs)", await bench_load(vms))


def main() -> None:
    trio.run(run_all)


if __name__ == "__main__":
    main()
