"""The real npm ``xen-api`` client (what Xen Orchestra uses) against xapi-sim over real sockets:
it connects, loads every object, and sees an event for a change made through the XenAPI package."""

from __future__ import annotations

import json
import os
import subprocess
from functools import partial
from pathlib import Path

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
