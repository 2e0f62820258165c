"""Removing a whole pool while several non-admin clients watch it: their views are updated a
slice at a time, so another client's calls keep being answered while the removal is being
processed (an ordering bound, no timing). And an admin's connection, which keeps no list of the
ids its client knows, becoming a non-admin's and back."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).parent))

from acl_server import Client, open_server  # noqa: E402

from xo.objects.store import ObjectStore  # noqa: E402
from xo.web.object_view import ObjectView  # noqa: E402

VMS = 4000
USERS = 5


def _pool(n_vms: int) -> dict[str, dict[str, Any]]:
    objects: dict[str, dict[str, Any]] = {
        "pool": {"id": "pool", "type": "pool", "name_label": "p"},
        "host": {"id": "host", "type": "host", "$pool": "pool"},
    }
    for i in range(n_vms):
        vm = f"vm{i}"
        objects[vm] = {"id": vm, "type": "VM", "$container": "host", "name_label": vm}
        objects[f"{vm}-vif"] = {"id": f"{vm}-vif", "type": "VIF", "$VM": vm, "$network": "n"}
    return objects


def _exited(client: Client) -> int:
    return sum(
        len(m["params"]["items"])
        for m in client.log
        if m.get("method") == "all" and m["params"]["type"] == "exit"
    )


async def test_pool_removal_does_not_starve_other_clients() -> None:
    objects = ObjectStore()
    pool = _pool(VMS)
    objects.replace_pool("p", pool)
    assert len(pool) > 4 * ObjectView.SLICE  # each view needs several slices
    async with open_server(objects) as server:
        _, admin_token = await server.user("admin@x", "admin")
        tokens = []
        for index in range(USERS):
            user_id, token = await server.user(f"u{index}@x")
            await server.store.add_acl(user_id, "pool", "viewer")
            tokens.append(token)
        await server.services.rights_changed()
        order: list[str] = []
        async with trio.open_nursery() as nursery:
            clients: list[Client] = []
            for token in tokens:
                client = await nursery.start(_signed_in, server, token)
                clients.append(client)
            pinger = await nursery.start(_signed_in, server, admin_token)
            # every non-admin view knows the pool (a call is answered after its view started)
            for client in clients:
                assert await client.result("system.getVersion")
            removing = trio.Event()

            async def ping() -> None:
                await removing.wait()
                while True:
                    await pinger.result("system.getVersion")
                    order.append("pong")

            async def watch_exit(index: int, client: Client) -> None:
                await client.wait(lambda: _exited(client) >= len(pool), timeout=60)
                order.append(f"exit {index}")

            async with trio.open_nursery() as watchers:
                for index, client in enumerate(clients):
                    watchers.start_soon(watch_exit, index, client)
                nursery.start_soon(ping)
                await trio.lowlevel.checkpoint()
                order.append("remove")
                objects.remove_pool("p")
                removing.set()
            nursery.cancel_scope.cancel()
    exits = [i for i, event in enumerate(order) if event.startswith("exit")]
    assert len(exits) == USERS
    # the other client was answered between the removal and the last view's exit
    assert "pong" in order[order.index("remove") : exits[-1]], order
    for client in clients:
        assert _exited(client) == len(pool)  # each id once


async def _signed_in(server: Any, token: str, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    async with server.signed_in(token) as client:
        task_status.started(client)
        await trio.sleep_forever()


async def test_an_admin_made_a_user_sees_only_what_its_acls_allow_from_then_on() -> None:
    objects = ObjectStore()
    pool = _pool(20)
    objects.replace_pool("p", pool)
    async with open_server(objects) as server:
        _, boss_token = await server.user("boss@x", "admin")
        demoted_id, token = await server.user("d@x", "admin")
        await server.store.add_acl(demoted_id, "vm3", "viewer")
        await server.services.rights_changed()
        async with server.signed_in(boss_token) as boss, server.signed_in(token) as client:
            answer = await client.call("xo.getAllObjects")
            assert len(answer["result"]) == len(pool)
            assert await boss.result("user.set", {"id": demoted_id, "permission": "none"})
            await client.wait(lambda: set(client.view_after(answer)) == {"vm3", "vm3-vif"})
            # from then on, only what the ACLs allow: vm4 changes unseen, vm3 changes seen
            objects.apply("p", {"vm4": {**pool["vm4"], "name_label": "x"}}, ())
            objects.apply("p", {"vm3": {**pool["vm3"], "name_label": "y"}}, ())
            await client.wait(lambda: client.view_after(answer)["vm3"]["name_label"] == "y")
            assert "vm4" not in client.entered()
            assert await boss.result("user.set", {"id": demoted_id, "permission": "admin"})
            await client.wait(lambda: len(client.view_after(answer)) == len(pool))
            assert client.view_after(answer)["vm4"]["name_label"] == "x"
