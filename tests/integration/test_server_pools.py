"""xo-server with a real pool (xapi-sim over HTTP): server.*, objects and live notifications.

Everything real: the app in-process on 127.0.0.1:0, the PoolManager connecting to the simulator
over sockets, a raw WebSocket client, and the XenAPI package changing the pool behind our back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from xo_harness import XoClient, open_admin_client

from xo.sim.serve import RunningPool


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[XoClient]:
    async with open_admin_client(tmp_path) as (_app, client):
        yield client


def vm_entered(params: dict[str, Any]) -> bool:
    return params["type"] == "enter" and any(
        o.get("type") == "VM" for o in params["items"].values()
    )


async def add_pool(client: XoClient, pool: RunningPool) -> str:
    server_id = await client.result(
        "server.add",
        {"host": pool.master_url, "username": pool.username, "password": pool.password},
    )
    await client.wait_for(vm_entered, timeout=10)
    return server_id


async def test_pool_objects_reach_the_client(
    client: XoClient, sim_pool: RunningPool, xenapi: Any
) -> None:
    server_id = await add_pool(client, sim_pool)
    assert isinstance(server_id, str) and len(server_id) == 36

    objects = await client.result("xo.getAllObjects", {"filter": {"type": "VM"}})
    expected = {
        record["uuid"]
        for record in (await xenapi.call("VM.get_all_records")).values()
        if not record["is_a_template"]
        and not record["is_control_domain"]
        and not record["is_a_snapshot"]
    }
    assert set(objects) == expected
    vm = next(iter(objects.values()))
    for field in (
        "id",
        "uuid",
        "type",
        "name_label",
        "power_state",
        "$pool",
        "$poolId",
        "_xapiRef",
        "$VBDs",
        "VIFs",
    ):
        assert field in vm, field

    servers = await client.result("server.getAll")
    assert [s["id"] for s in servers] == [server_id]
    assert servers[0]["status"] == "connected" and servers[0]["poolId"] == vm["$pool"]
    assert "password" not in servers[0]

    # A change made through XenAPI reaches the client as an `all` notification within 1 s.
    ref = vm["_xapiRef"]
    await xenapi.call("VM.set_name_label", ref, "renamed by XenAPI")
    await client.wait_for(
        lambda p: (
            p["type"] == "enter"
            and p["items"].get(vm["id"], {}).get("name_label") == "renamed by XenAPI"
        ),
        timeout=1,
    )


async def test_server_entries(client: XoClient, sim_pool: RunningPool) -> None:
    server_id = await add_pool(client, sim_pool)
    duplicate = await client.call(
        "server.add", {"host": sim_pool.master_url, "username": "root", "password": "x"}
    )
    assert duplicate["error"] == {
        "message": "server already exists",
        "code": 16,
        "data": {"objectId": server_id, "objectType": "server"},
    }
    enabled_again = await client.call("server.enable", {"id": server_id})
    assert enabled_again["error"]["code"] == 25

    # Disabling withdraws the pool's objects (exit notifications), enabling brings them back.
    assert await client.result("server.disable", {"id": server_id}) is True
    await client.wait_for(lambda p: p["type"] == "exit" and set(p["items"].values()) == {0})
    assert await client.result("xo.getAllObjects", {"filter": {"type": "VM"}}) == {}
    servers = await client.result("server.getAll")
    assert servers[0]["status"] == "disconnected" and servers[0]["enabled"] is False
    changed = await client.result("server.set", {"id": server_id, "label": "lab", "readOnly": True})
    assert changed is True
    assert await client.result("server.enable", {"id": server_id}) is True
    assert (await client.result("server.getAll"))[0]["status"] == "connected"
    assert (await client.result("server.getAll"))[0]["label"] == "lab"
    refused = await client.call("server.set", {"id": server_id, "password": "new"})
    assert refused["error"]["code"] == 25
    assert await client.result("server.remove", {"id": server_id}) is True
    assert await client.result("server.getAll") == []


async def test_wrong_xapi_password_is_authentication_failed(
    client: XoClient, sim_pool: RunningPool
) -> None:
    server_id = await client.result(
        "server.add",
        {
            "host": sim_pool.master_url,
            "username": sim_pool.username,
            "password": "wrong",
            "autoConnect": False,
        },
    )
    failure = await client.call("server.enable", {"id": server_id})
    assert failure["error"] == {"message": "authentication failed", "code": 8}
    status = (await client.result("server.getAll"))[0]
    assert status["status"] == "disconnected"
    assert status["error"]["code"] == "SESSION_AUTHENTICATION_FAILED"


async def test_vm_power_operations(client: XoClient, sim_pool: RunningPool) -> None:
    await add_pool(client, sim_pool)
    vms = await client.result(
        "xo.getAllObjects", {"filter": {"type": "VM", "power_state": "Halted"}}
    )
    vm = next(iter(vms.values()))
    assert await client.result("vm.start", {"id": vm["id"]}) is True

    def running(p: dict[str, Any]) -> bool:
        return p["type"] == "enter" and p["items"].get(vm["id"], {}).get("power_state") == "Running"

    # Generous: the suite may share 2 cores with other suites.
    await client.wait_for(running, timeout=10)
    again = await client.call("vm.start", {"id": vm["id"]})
    assert again["error"]["code"] == 13
    assert again["error"]["data"]["objectId"] == vm["id"]
    assert again["error"]["message"] == "VM state is running but should be halted"
    assert await client.result("vm.set", {"id": vm["id"], "name_label": "web-1"}) is True
    assert await client.result("vm.stop", {"vm": vm["id"], "force": True}) is True
    missing = await client.call("vm.start", {"id": "nope"})
    assert missing["error"] == {
        "message": "no such VM nope",
        "code": 1,
        "data": {"id": "nope", "type": "VM"},
    }
