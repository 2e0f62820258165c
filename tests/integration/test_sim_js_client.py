"""The real npm ``xen-api`` client (what Xen Orchestra uses) against xapi-sim over real sockets:
it connects, loads every object, and sees an event for a change made through the XenAPI package."""

from __future__ import annotations

import json
import os
import subprocess
import xmlrpc.client
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import trio

JS_DIR = Path(__file__).resolve().parents[1] / "js"
PROBE = JS_DIR / "xen_api_probe.mjs"


class LineReader:
    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buffer = b""

    async def next_json(self) -> dict:
        while b"\n" not in self._buffer:
            data = await self._stream.receive_some(65536)
            if not data:
                raise EOFError(f"probe exited; partial output {self._buffer[-500:]!r}")
            self._buffer += data
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)


async def test_xen_api_client_loads_everything_and_sees_a_change(sim_pool, xenapi) -> None:  # noqa: ANN001
    db = sim_pool.pool.db
    vm_ref = next(r for r, v in db.all("VM").items() if v["power_state"] == "Halted" and not v["is_a_template"] and not v["is_a_snapshot"])
    uuid = db.get("VM", vm_ref)["uuid"]
    env = {
        **os.environ,
        "XAPI_URL": sim_pool.master_url,
        "XAPI_USER": sim_pool.username,
        "XAPI_PASSWORD": sim_pool.password,
        "XAPI_WATCH_UUID": uuid,
        "XAPI_EXPECT_NAME": "renamed through XenAPI",
    }
    run = partial(trio.run_process, ["node", str(PROBE)], cwd=JS_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)  # fmt: skip
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            process = await nursery.start(run)
            lines = LineReader(process.stdout)
            loaded = await lines.next_json()
            assert loaded["step"] == "loaded", loaded
            counts = loaded["counts"]
            # every object with a uuid of every table is in the client's cache
            for cls, rows in db.tables.items():
                with_uuid = [r for r in rows.values() if r.get("uuid")]
                if cls not in ("task",):  # transient tasks may come and go
                    assert counts.get(cls, 0) == len(with_uuid), cls
            assert loaded["watched"]["$type"] == "VM" and loaded["watched"]["power_state"] == "Halted"
            assert loaded["pool"] == sim_pool.pool.uuid

            await xenapi.call("VM.set_name_label", vm_ref, "renamed through XenAPI")
            while True:
                line = await lines.next_json()
                assert line["step"] in ("vm", "seen"), line
                if line["step"] == "seen":
                    break
            assert line["uuid"] == uuid and line["name_label"] == "renamed through XenAPI"
            assert await process.wait() == 0


FAILOVER = JS_DIR / "xen_api_failover.mjs"


async def test_xen_api_client_follows_host_addresses_to_the_master_and_after_a_failover(
    sim_pool, http_request
) -> None:  # noqa: ANN001
    """Given a slave's URL, xen-api is sent to the master by HOST_IS_SLAVE (bare IP, same scheme
    and port); after promote(2) + stop(master) it logs in again through a surviving member and
    keeps seeing events from the new master."""
    db = sim_pool.pool.db
    urls = sim_pool.host_urls
    ips = [urlsplit(url).hostname for url in urls]
    port = urlsplit(urls[0]).port
    assert len(set(ips)) == 3 and {urlsplit(url).port for url in urls} == {port}
    assert [db.get("host", ref)["address"] for ref in sim_pool.pool.host_refs] == ips
    vm_ref = next(r for r, v in db.all("VM").items() if not v["is_a_template"] and not v["is_control_domain"] and not v["is_a_snapshot"])  # fmt: skip
    uuid = db.get("VM", vm_ref)["uuid"]
    env = {
        **os.environ,
        "XAPI_URL": urls[1],  # a slave
        "XAPI_USER": sim_pool.username,
        "XAPI_PASSWORD": sim_pool.password,
        "XAPI_WATCH_UUID": uuid,
        "XAPI_EXPECT_NAME": "renamed on the new master",
    }
    run = partial(trio.run_process, ["node", str(FAILOVER)], cwd=JS_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)  # fmt: skip
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            process = await nursery.start(run)
            lines = LineReader(process.stdout)
            connected = await lines.next_json()
            assert connected == {"step": "connected", "hostname": ips[0], "port": str(port)}
            loaded = await lines.next_json()
            assert loaded == {"step": "loaded", "hosts": ips, "master": ips[0]}

            await sim_pool.promote(2)
            await sim_pool.stop_host(0)
            lost = await lines.next_json()
            assert lost["step"] == "lost", lost
            recovered = await lines.next_json()
            assert recovered["step"] == "recovered", recovered
            # it tried host 1 first (a slave: HOST_IS_SLAVE) and ended on the new master
            assert recovered["tried"] == [f"http://{ips[1]}:{port}/"]
            assert (recovered["hostname"], recovered["port"]) == (ips[2], str(port))

            body = xmlrpc.client.dumps(
                (sim_pool.username, sim_pool.password), "session.login_with_password"
            )
            reply = await http_request("POST", urls[2] + "/", body=body.encode())
            session = xmlrpc.client.loads(reply.body)[0][0]["Value"]
            body = xmlrpc.client.dumps(
                (session, vm_ref, "renamed on the new master"), "VM.set_name_label"
            )
            reply = await http_request("POST", urls[2] + "/", body=body.encode())
            assert xmlrpc.client.loads(reply.body)[0][0]["Status"] == "Success"
            seen = await lines.next_json()
            assert seen == {"step": "seen", "uuid": uuid, "name_label": "renamed on the new master"}
            assert await process.wait() == 0
