"""`xo-server --demo`: the embedded simulator's pools are registered, connect by themselves, and
show both flavours (XCP-ng and XenServer); a restart replaces the demo entries instead of adding."""

from __future__ import annotations

from pathlib import Path

import trio
from trio_websocket import open_websocket_url
from xo_harness import ADMIN, XoClient

from xo.app import XoServerApp
from xo.config import load_config


async def demo_state(datadir: Path) -> tuple[list[dict], set[str]]:
    config = load_config(environ={}, listen=["127.0.0.1:0"], datadir=str(datadir), demo=True)
    app = XoServerApp(config, announce=lambda line: None)
    async with trio.open_nursery() as nursery:
        ready = await nursery.start(app.run)
        url = ready.url.replace("http://", "ws://") + "/api/"
        async with open_websocket_url(url) as ws, trio.open_nursery() as connection:
            client = XoClient(ws)
            connection.start_soon(client.pump)
            await client.result("session.signIn", ADMIN)
            with trio.fail_after(30):
                while True:
                    servers = await client.result("server.getAll")
                    if servers and all(s["status"] == "connected" for s in servers):
                        break
                    await trio.sleep(0.05)
            hosts = await client.result("xo.getAllObjects", {"filter": {"type": "host"}})
            connection.cancel_scope.cancel()
        app.stop()
    return servers, {host["productBrand"] for host in hosts.values()}


async def test_demo_registers_an_xcpng_and_a_xenserver_pool(tmp_path: Path) -> None:
    servers, brands = await demo_state(tmp_path)
    assert len(servers) == 2
    assert brands == {"XCP-ng", "XenServer"}
    again, _ = await demo_state(tmp_path)  # same data directory: entries replaced, not added
    assert len(again) == 2 and {s["id"] for s in again}.isdisjoint(s["id"] for s in servers)
