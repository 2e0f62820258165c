"""What each user receives (xo.getAllObjects, then ``all`` notifications) is exactly what the
ACL evaluation lets it view, over a real WebSocket, while ACLs, groups and the object graph
change under connected clients (hypothesis draws all three)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "auth"))

from acl_graphs import Rights, apply_change, changes, graphs, rights  # noqa: E402
from acl_server import Client, open_server  # noqa: E402

from xo.objects.store import ObjectStore  # noqa: E402

USERS = ["alice", "bob", "carol"]
# Each step ends by replacing marker n-1 by marker n: the exit of n-1 comes in the last frame
# the server sends for that batch (enter frames go first, as XO sends them), so once a client
# got it, it got everything the step caused.
MARKERS = "markers"


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Any, Rights, list[Any]]:
    graph = draw(graphs(max_each=3))
    model = draw(rights(graph, USERS))
    return graph, model, draw(changes(graph, model, max_size=4))


def markers(n: int) -> dict[str, dict[str, Any]]:
    marker = {"id": f"marker-{n}", "type": "host", "$pool": MARKERS, "_xapiRef": f"OpaqueRef:m{n}"}
    pool = {"id": MARKERS, "type": "pool", "_xapiRef": "OpaqueRef:markers"}
    return {MARKERS: pool, marker["id"]: marker}


def step_done(view: dict[str, Any], n: int) -> bool:
    return f"marker-{n}" in view and f"marker-{n - 1}" not in view


async def apply_rights(
    admin: Client, change: Any, groups: dict[str, str], users: dict[str, str]
) -> None:
    subject = lambda name: users.get(name) or groups[name]  # noqa: E731
    kind = change[0]
    if kind in ("acl+", "acl-"):
        method = "acl.add" if kind == "acl+" else "acl.remove"
        params = {"subject": subject(change[1]), "object": change[2], "action": change[3]}
        assert await admin.result(method, params) is True
    elif kind in ("join", "leave"):
        method = "group.addUser" if kind == "join" else "group.removeUser"
        assert (
            await admin.result(method, {"id": groups[change[1]], "userId": users[change[2]]})
            is True
        )


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
async def test_each_user_receives_exactly_what_it_may_view(scenario: Any) -> None:
    graph, model, steps = scenario
    objects = ObjectStore()
    objects.replace_pool("drawn", dict(graph))
    objects.replace_pool(MARKERS, markers(0))
    async with open_server(objects) as server:
        _, admin_token = await server.user("admin@example.net", "admin")
        users, tokens = {}, {}
        for name in USERS:
            users[name], tokens[name] = await server.user(f"{name}@example.net")
        async with server.signed_in(admin_token) as admin:
            groups = {}
            for name, members in model.groups.items():
                groups[name] = await admin.result("group.create", {"name": name})
                await admin.result(
                    "group.setUsers", {"id": groups[name], "userIds": [users[u] for u in members]}
                )
            for s, o, r in model.acls:
                await admin.result(
                    "acl.add", {"subject": users.get(s) or groups[s], "object": o, "action": r}
                )
            for name in USERS:  # everyone sees the markers
                await admin.result(
                    "acl.add", {"subject": users[name], "object": MARKERS, "action": "viewer"}
                )
            async with trio.open_nursery() as nursery:
                clients: dict[str, Client] = {}
                loaded: dict[str, dict[str, Any]] = {}
                for name in USERS:
                    clients[name] = await nursery.start(_connect, server, tokens[name])
                    loaded[name] = await clients[name].call("xo.getAllObjects")
                admin_view = await admin.call("xo.getAllObjects")
                ever_visible = {name: model.expected(name, graph) for name in USERS}
                removed: dict[str, Any] = {}
                for n, step in enumerate([None, *steps], start=1):
                    if step is not None:
                        upserts, removals = apply_change(step, graph, removed, model)
                        await apply_rights(admin, step, groups, users)
                        objects.apply("drawn", upserts, removals)
                    objects.replace_pool(MARKERS, markers(n))
                    for name, client in clients.items():
                        answer = loaded[name]
                        await client.wait(lambda c=client, a=answer: step_done(c.view_after(a), n))  # noqa: B023
                        expected = model.expected(name, graph)
                        ever_visible[name] |= expected
                        view = client.view_after(answer)
                        assert view.pop(f"marker-{n}") and view.pop(MARKERS)
                        assert view == {i: graph[i] for i in expected}, (step, name)
                        # Nothing the user could not see at some point ever reached it.
                        entered = {i for i in client.entered() if not i.startswith("marker")}
                        assert entered <= ever_visible[name] | {MARKERS}, (step, name)
                    await admin.wait(lambda: step_done(admin.view_after(admin_view), n))  # noqa: B023
                    assert admin.view_after(admin_view) == {**graph, **markers(n)}
                nursery.cancel_scope.cancel()


async def _connect(server: Any, token: str, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    async with server.signed_in(token) as client:
        task_status.started(client)
        await trio.sleep_forever()
