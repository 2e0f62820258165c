"""xo-server with a 10,000-VM pool: full load, xo.getAllObjects, RSS, event latency, WebSocket
round trip (issue 3).

xapi-sim (``python -m xo.sim --vms N``) and xo-server (``python -m xo.server_cli``) each run in
their own process; this process is the clients. ``XO_BENCH_QUICK=1``: 1,000 VMs;
``BENCH_SERVER_VMS`` overrides; ``BENCH_SERVER_30K=1`` adds a 30,000-VM run of load and RSS.

- full load: ``server.add`` -> ``server.getAll`` says ``connected`` (polled every 10 ms), and ->
  a signed-in client has been notified of every VM (the store published them all).
- ``xo.getAllObjects``: time from the request to the whole answer, and its size; JSON text frame
  vs the msgpack subprotocol (best of 3). In-run baseline: ``orjson.dumps`` of the same objects
  here.
- RSS of the xo-server process (``/proc/<pid>/status``) with the pool loaded, and idle before.
- event latency: 50 signed-in clients; VMs changed one at a time through XML-RPC
  (``VM.set_name_description`` on the sim, every 20 ms); latency = arrival of the client's
  notification carrying the change - the moment the call was sent; p50/p99 over every
  (change, client); nothing may be lost.
- WebSocket round trip of ``system.getVersion`` (median of sequential calls) vs a bare
  trio-websocket echo server in this process, same client.

Published xo-server 5.207.2 figures on this kind of machine (one pool of 10,000 VMs, 20
clients): full load 5.0 s, RSS 597 MB (1.1 GB at 30,000 VMs), xo.getAllObjects 1.24 s for
40 MB, event p99 186 ms.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from functools import partial
from typing import Any

import orjson
import trio
from trio_websocket import WebSocketRequest, open_websocket_url, serve_websocket

from bench._common import env_int, percentile, quick, rss_bytes
from bench._http import Connection
from bench._procs import start_server, start_sim
from bench._wsclient import MAX_MESSAGE, WsClient, connect
from bench.report import Row, print_table
from xo.formats import xmlrpc

ADMIN = {"email": "admin@admin.net", "password": "admin"}
XO_LOAD_S = 5.0
XO_RSS_MB = 597.0
XO_RSS_30K_MB = 1100.0
XO_GET_ALL_S = 1.24
XO_GET_ALL_MB = 40.0
XO_EVENT_P99_MS = 186.0
MB = 1_000_000

CLIENTS = 50
CHANGE_EVERY = 0.02
MARK = "bench-latency:"


class VmCounter:
    """Counts the distinct VMs a client has been notified of; sets ``done`` at ``expected``."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.ids: set[str] = set()
        self.done = trio.Event()

    def __call__(self, arrived: float, message: dict[str, Any]) -> None:
        params = message.get("params") or {}
        if params.get("type") != "enter":
            return
        for object_id, obj in params["items"].items():
            if obj.get("type") == "VM":
                self.ids.add(object_id)
        if len(self.ids) >= self.expected:
            self.done.set()


async def _status(admin: WsClient, server_id: str) -> str:
    for server in await admin.call("server.getAll"):
        if server["id"] == server_id:
            return server["status"]
    return "missing"


async def load_pool(admin: WsClient, sim: dict[str, Any], vms: int) -> tuple[float, float]:
    """(seconds to ``connected``, seconds until the admin client was notified of every VM)."""
    counter = VmCounter(vms)
    admin.on_notification = counter
    started = time.perf_counter()
    server_id = await admin.call(
        "server.add",
        {"host": sim["master"], "username": sim["username"], "password": sim["password"]},
    )
    connected = None
    with trio.fail_after(600):
        while connected is None:
            if await _status(admin, server_id) == "connected":
                connected = time.perf_counter() - started
                break
            await trio.sleep(0.01)
        await counter.done.wait()
    notified = time.perf_counter() - started
    admin.on_notification = None
    return connected, notified


async def get_all_objects(client: WsClient) -> tuple[float, int, Any]:
    """Best of 3: (seconds, answer frame bytes, result)."""
    best = None
    result: Any = None
    size = 0
    for _ in range(3):
        elapsed, result = await client.call_timed("xo.getAllObjects")
        size = client.last_frame_bytes
        best = elapsed if best is None else min(best, elapsed)
    assert best is not None
    return best, size, result


async def _xmlrpc(connection: Connection, method: str, params: list) -> Any:
    response = await connection.request("POST", "/", xmlrpc.dumps_request(method, params))
    return xmlrpc.loads_response(response.body)


async def event_latency(
    base_url: str, token: str, sim: dict[str, Any], vm_refs: list[str], server_pid: int
) -> tuple[list[float], int, int, float, int]:
    """(latencies in s, expected deliveries, lost deliveries, median XML-RPC call time, server
    RSS once the clients are signed in)."""
    sent: dict[int, float] = {}
    received: list[dict[int, float]] = [{} for _ in range(CLIENTS)]
    expected = len(vm_refs) * CLIENTS
    count = 0
    all_received = trio.Event()

    def on_notification(index: int, arrived: float, message: dict[str, Any]) -> None:
        nonlocal count
        params = message.get("params") or {}
        if params.get("type") != "enter":
            return
        for obj in params["items"].values():
            description = obj.get("name_description") or ""
            if description.startswith(MARK):
                seq = int(description[len(MARK) :])
                if seq not in received[index]:
                    received[index][seq] = arrived
                    count += 1
                    if count >= expected:
                        all_received.set()

    connection = await Connection.open(sim["master"])
    calls: list[float] = []
    async with trio.open_nursery() as nursery:
        ready = trio.Semaphore(0)
        stop = trio.Event()

        async def client(index: int) -> None:
            async with connect(base_url) as ws:
                await ws.call("session.signIn", {"token": token})
                ws.on_notification = partial(on_notification, index)
                ready.release()
                await stop.wait()

        for index in range(CLIENTS):
            nursery.start_soon(client, index)
        for _ in range(CLIENTS):
            await ready.acquire()
        session = await _xmlrpc(
            connection, "session.login_with_password", [sim["username"], sim["password"]]
        )
        await trio.sleep(0.5)
        rss_clients = rss_bytes(server_pid)
        for seq, ref in enumerate(vm_refs):
            started = time.perf_counter()
            sent[seq] = started
            await _xmlrpc(connection, "VM.set_name_description", [session, ref, f"{MARK}{seq}"])
            calls.append(time.perf_counter() - started)
            await trio.sleep(max(0.0, CHANGE_EVERY - (time.perf_counter() - started)))
        with trio.move_on_after(5):
            await all_received.wait()
        stop.set()
    await connection.aclose()
    latencies = [
        arrived - sent[seq]
        for client_received in received
        for seq, arrived in client_received.items()
    ]
    return latencies, expected, expected - len(latencies), statistics.median(calls), rss_clients


async def ws_round_trip(base_url: str, count: int) -> tuple[float, float]:
    """(median RTT of system.getVersion on xo-server, median RTT on a bare echo server)."""
    async with connect(base_url) as client:
        for _ in range(50):  # warm-up
            await client.call("system.getVersion")
        times = []
        for _ in range(count):
            elapsed, _ = await client.call_timed("system.getVersion")
            times.append(elapsed)
    ours = statistics.median(times)

    async def echo(request: WebSocketRequest) -> None:
        ws = await request.accept()
        while True:
            await ws.send_message(await ws.get_message())

    frame = orjson.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "system.getVersion", "params": {}}
    ).decode()
    async with trio.open_nursery() as nursery:
        server = await nursery.start(partial(serve_websocket, echo, "127.0.0.1", 0, None))
        port = server.port
        async with open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
            for _ in range(50):
                await ws.send_message(frame)
                await ws.get_message()
            echo_times = []
            for _ in range(count):
                started = time.perf_counter()
                await ws.send_message(frame)
                await ws.get_message()
                echo_times.append(time.perf_counter() - started)
        nursery.cancel_scope.cancel()
    return ours, statistics.median(echo_times)


async def bare_big_frame(text: str, binary: bool) -> float:
    """Best of 3: seconds for a bare trio-websocket server to answer a request with ``text``
    (a text frame, or its UTF-8 bytes in a binary frame) to the benchmark's client."""
    payload: str | bytes = text.encode() if binary else text

    async def serve(request: WebSocketRequest) -> None:
        ws = await request.accept()
        while True:
            await ws.get_message()
            await ws.send_message(payload)

    best = float("inf")
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            partial(serve_websocket, serve, "127.0.0.1", 0, None, max_message_size=MAX_MESSAGE)
        )
        url = f"http://127.0.0.1:{server.port}"
        async with connect(url, binary=binary) as client:
            for _ in range(3):
                started = time.perf_counter()
                await client.ws.send_message(b"x" if binary else "x")
                arrived = await client.next_raw_arrival()
                best = min(best, arrived - started)
        nursery.cancel_scope.cancel()
    return best


async def load_and_rss(vms: int, datadir: str) -> tuple[float, float, int, int]:
    """A fresh sim + xo-server: (connected s, notified s, idle RSS, loaded RSS)."""
    async with trio.open_nursery() as nursery:
        _, sim = await start_sim(nursery, vms=vms)
        server, base_url = await start_server(nursery, datadir)
        async with connect(base_url) as admin:
            await admin.call("session.signIn", ADMIN)
            idle = rss_bytes(server.pid)
            connected, notified = await load_pool(admin, sim, vms)
            await trio.sleep(1)
            loaded = rss_bytes(server.pid)
        nursery.cancel_scope.cancel()
    return connected, notified, idle, loaded


async def run_all() -> None:
    vms = env_int("BENCH_SERVER_VMS", 1000 if quick() else 10_000)
    scale = vms / 10_000
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="xo-bench-") as tmp:
        async with trio.open_nursery() as nursery:
            _, sim = await start_sim(nursery, vms=vms)
            server, base_url = await start_server(nursery, os.path.join(tmp, "data"))
            async with connect(base_url) as admin, connect(base_url, binary=True) as packed:
                await admin.call("session.signIn", ADMIN)
                token = await admin.call("token.create", {"expiresIn": "1 hour"})
                await packed.call("session.signIn", {"token": token})
                idle = rss_bytes(server.pid)
                connected, notified = await load_pool(admin, sim, vms)
                await trio.sleep(1)
                loaded = rss_bytes(server.pid)
                rows += [
                    Row("full load: server.add -> connected", connected, "s", XO_LOAD_S * scale,
                        "xo-server 5.207.2 (published)", "<= 1/3"),
                    Row("full load: -> every VM notified to a client", notified, "s",
                        XO_LOAD_S * scale, "xo-server 5.207.2 (published)", "<= 1/3"),
                    Row("RSS with the pool loaded", loaded / MB, "MB", XO_RSS_MB * scale if
                        scale == 1 else None, "xo-server 5.207.2 (published)", "<= 1/4 (~150 MB)"),
                    Row("  RSS idle (signed in, no pool)", idle / MB, "MB"),
                    Row("  RSS per 1,000 VMs (loaded - idle)", (loaded - idle) / MB / vms * 1000,
                        "MB", XO_RSS_MB / 10, "xo-server: 597 MB / 10"),
                ]  # fmt: skip

                json_s, json_bytes, objects = await get_all_objects(admin)
                started = time.perf_counter()
                encoded = orjson.dumps(objects)
                dumps_s = time.perf_counter() - started
                pack_s, pack_bytes, _ = await get_all_objects(packed)
                bare_text_s = await bare_big_frame(encoded.decode(), binary=False)
                bare_binary_s = await bare_big_frame(encoded.decode(), binary=True)
                vm_refs = [obj["_xapiRef"] for obj in objects.values() if obj.get("type") == "VM"][
                    :200
                ]
                rows += [
                    Row(f"xo.getAllObjects JSON ({len(objects)} objects)", json_s, "s", dumps_s,
                        "orjson.dumps of the same objects here",
                        f"<= 1/3 of XO: {json_s / (XO_GET_ALL_S * scale):.2f} of its 1.24 s"),
                    Row("  JSON answer size", json_bytes / MB, "MB", len(encoded) / MB,
                        "orjson.dumps of the objects", f"XO: {XO_GET_ALL_MB * scale:.0f} MB"),
                    Row("  same size from a bare WebSocket server", bare_text_s, "s", json_s,
                        "xo.getAllObjects JSON (transport + this client's share)"),
                    Row("xo.getAllObjects msgpack", pack_s, "s", json_s, "JSON"),
                    Row("  JSON bytes, binary frame, bare server", bare_binary_s, "s", pack_s,
                        "xo.getAllObjects msgpack"),
                    Row("  msgpack answer size", pack_bytes / MB, "MB", json_bytes / MB, "JSON"),
                ]  # fmt: skip
                del objects, encoded
                rss_after = rss_bytes(server.pid)
                rows.append(Row("RSS after getAllObjects calls", rss_after / MB, "MB", loaded / MB,
                                "RSS with the pool loaded"))  # fmt: skip

                latencies, expected, lost, call_s, rss_clients = await event_latency(
                    base_url, token, sim, vm_refs, server.pid
                )
                ms = [latency * 1000 for latency in latencies]
                rows += [
                    Row(f"event latency p50 ({CLIENTS} clients, {len(vm_refs)} changes)",
                        percentile(ms, 0.5), "ms", None, "", "pool batching 50 ms + <= 50 ms"),
                    Row("event latency p99", percentile(ms, 0.99), "ms", XO_EVENT_P99_MS,
                        "xo-server 5.207.2 p99 (published)", "<= 100 ms (50 + 50)"),
                    Row("event latency max", max(ms), "ms"),
                    Row("  notifications lost", lost, "", expected, "expected deliveries", "0"),
                    Row("  XML-RPC change call (median)", call_s * 1000, "ms"),
                    Row(f"RSS with {CLIENTS} signed-in clients", rss_clients / MB, "MB",
                        rss_after / MB, "RSS after getAllObjects calls"),
                ]  # fmt: skip

                ours, echo = await ws_round_trip(base_url, 300 if quick() else 2000)
                rows.append(
                    Row(
                        "WebSocket round trip system.getVersion",
                        ours * 1e6,
                        "us",
                        echo * 1e6,
                        "bare trio-websocket echo, this process",
                    )  # fmt: skip
                )
            nursery.cancel_scope.cancel()
        print_table(f"xo-server: one pool of {vms} VMs (sim and server in their own processes)",
                    rows)  # fmt: skip

        if os.environ.get("BENCH_SERVER_30K") and not quick():
            big = 30_000
            connected, notified, idle, loaded = await load_and_rss(big, os.path.join(tmp, "d30"))
            print_table(
                f"xo-server: one pool of {big} VMs",
                [
                    Row("full load: server.add -> connected", connected, "s", XO_LOAD_S * 3,
                        "3 x xo-server's 10,000-VM load (estimate)", "<= 1/3"),
                    Row("full load: -> every VM notified", notified, "s"),
                    Row("RSS with the pool loaded", loaded / MB, "MB", XO_RSS_30K_MB,
                        "xo-server 5.207.2 (published)", "<= 300 MB"),
                    Row("  RSS per 1,000 VMs (loaded - idle)", (loaded - idle) / MB / big * 1000,
                        "MB", XO_RSS_30K_MB / 30, "xo-server: 1.1 GB / 30"),
                ],
            )  # fmt: skip


def main() -> None:
    trio.run(run_all)


if __name__ == "__main__":
    main()
