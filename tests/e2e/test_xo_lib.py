"""The real xo-lib 0.9.0 from npm (tests/js/node_modules) against our xo-server.

xo-server runs in-process on 127.0.0.1:0 (temporary data directory); with a pool, the embedded
xapi-sim serves it over HTTP and the XenAPI package changes it behind xo-server's back. The Node
script (tests/js/xo_lib_session.mjs) reports each step as one JSON line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
import XenAPI

from xo.app import XoServerApp
from xo.config import load_config
from xo.sim.serve import RunningSim, open_sim
from xo.sim.timing import Timing

JS_DIR = Path(__file__).resolve().parents[1] / "js"
SCRIPT = JS_DIR / "xo_lib_session.mjs"


class Lines:
    """JSON lines from a process's stdout."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def next(self) -> dict[str, Any]:
        while b"\n" not in self.buffer:
            data = await self.stream.receive_some()
            if not data:
                raise EOFError(f"xo-lib script ended early; pending output: {self.buffer!r}")
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    async def expect(self, step: str) -> dict[str, Any]:
        with trio.fail_after(30):
            message = await self.next()
        assert message["step"] == step, message
        return message


async def start_server(nursery: trio.Nursery, datadir: Path) -> tuple[XoServerApp, str]:
    config = load_config(environ={}, listen=["127.0.0.1:0"], datadir=str(datadir))
    app = XoServerApp(config, announce=lambda line: None)
    ready = await nursery.start(app.run)
    return app, ready.url


@pytest.fixture
async def sim() -> AsyncIterator[RunningSim]:
    async with open_sim(pools=1, hosts=2, vms=6, seed=3, timing=Timing.fast()) as running:
        yield running


def node() -> str:
    path = shutil.which("node")
    assert path is not None, "Node.js is required for the xo-lib tests"
    assert (JS_DIR / "node_modules" / "xo-lib").is_dir(), "run `make js-deps` (npm ci in tests/js)"
    return path


async def run_script(url: str, with_pool: bool, steps: Any) -> int:
    env = {**os.environ, "XO_URL": url, "XO_WITH_POOL": "1" if with_pool else "0"}
    async with trio.open_nursery() as nursery:
        process = await nursery.start(
            partial(
                trio.run_process,
                [node(), str(SCRIPT)],
                cwd=JS_DIR,
                env=env,
                stdout=subprocess.PIPE,
                check=False,
            )
        )
        assert process.stdout is not None
        await steps(Lines(process.stdout))
        with trio.fail_after(30):
            return await process.wait()


async def check_session_steps(lines: Lines) -> None:
    await lines.expect("open")
    user = (await lines.expect("signedIn"))["user"]
    assert user["email"] == "admin@admin.net" and user["permission"] == "admin"
    assert list(user) == ["id", "email", "groups", "permission", "preferences"]
    assert (await lines.expect("version"))["result"] == "0.1"
    refused = (await lines.expect("sessionRefused"))["error"]
    assert refused["message"] == "session.*() methods are disabled from this interface"
    unknown = (await lines.expect("unknownMethod"))["error"]
    assert unknown == {
        "name": "JsonRpcError",
        "message": "method not found: foo.bar",
        "code": -32601,
        "data": "foo.bar",
    }
    bad = (await lines.expect("badParams"))["error"]
    assert bad["code"] == 10 and bad["message"] == "invalid parameters"
    assert bad["data"]["errors"][0]["params"] == {"missingProperty": "email"}
    token = (await lines.expect("token"))["token"]
    assert isinstance(token, str) and len(token) == 43


async def test_xo_lib_signs_in_and_calls_methods(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        app, url = await start_server(nursery, tmp_path / "data")

        async def steps(lines: Lines) -> None:
            await check_session_steps(lines)
            await lines.expect("closed")

        assert await run_script(url, False, steps) == 0
        app.stop()


async def test_xo_lib_sees_the_pool_live_and_starts_a_vm(tmp_path: Path, sim: RunningSim) -> None:
    pool = sim.pools[0]
    async with trio.open_nursery() as nursery:
        app, url = await start_server(nursery, tmp_path / "data")
        session = XenAPI.Session(pool.master_url)
        await trio.to_thread.run_sync(
            session.xenapi.login_with_password, pool.username, pool.password
        )

        async def steps(lines: Lines) -> None:
            await check_session_steps(lines)
            # The pool is registered once xo-lib is signed in, so its objects arrive as `all`
            # notifications.
            assert app.services is not None
            from xo.api.server import entry_of
            from xo.store.records import Server

            server = Server("e2e-pool", pool.master_url, pool.username, pool.password)
            await app.services.store.create_server(server)
            app.services.pools.connect(entry_of(server))
            vms = (await lines.expect("vms"))["vms"]
            records = await trio.to_thread.run_sync(session.xenapi.VM.get_all_records)
            expected = {
                r["uuid"]
                for r in records.values()
                if not (r["is_a_template"] or r["is_control_domain"] or r["is_a_snapshot"])
            }
            assert set(vms) == expected
            for vm in vms.values():
                assert (
                    vm["type"] == "VM" and vm["$pool"] and vm["_xapiRef"].startswith("OpaqueRef:")
                )
                assert vm["power_state"] in ("Running", "Halted", "Paused", "Suspended")
            watching = await lines.expect("watching")
            await trio.to_thread.run_sync(
                session.xenapi.VM.set_name_label, watching["ref"], "changed through XenAPI"
            )
            assert (await lines.expect("notified"))["ms"] < 1000
            assert (await lines.expect("vmStart"))["result"] is True
            await lines.expect("running")
            await lines.expect("closed")

        assert await run_script(url, True, steps) == 0
        app.stop()
