"""ACL evaluation (xo/auth/acl.py) against XO's inheritance rules, and the live machinery around
it (graph index, memoized resolvers, per-connection views) against the pure evaluation."""

from __future__ import annotations

from typing import Any

from acl_graphs import Rights, apply_change, changes, graphs, rights
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xo.auth.acl import ACTIONS, Resolver, allowed, explicit_permissions, links, structure
from xo.auth.rights import AclRights
from xo.objects.store import ObjectStore
from xo.store.records import Acl, RightsData
from xo.web.object_view import ObjectView

GRAPH: dict[str, dict[str, Any]] = {
    "pool": {"id": "pool", "type": "pool"},
    "other-pool": {"id": "other-pool", "type": "pool"},
    "host": {"id": "host", "type": "host", "$pool": "pool"},
    "net": {"id": "net", "type": "network", "$pool": "pool"},
    "shared-sr": {"id": "shared-sr", "type": "SR", "$container": "pool"},
    "local-sr": {"id": "local-sr", "type": "SR", "$container": "host"},
    "running": {"id": "running", "type": "VM", "$container": "host", "$pool": "pool"},
    "halted": {"id": "halted", "type": "VM", "$container": "pool", "$pool": "pool"},
    "snap": {"id": "snap", "type": "VM-snapshot", "$snapshot_of": "halted"},
    "tpl": {"id": "tpl", "type": "VM-template", "$pool": "pool"},
    "ctrl": {"id": "ctrl", "type": "VM-controller", "$container": "host"},
    "disk": {"id": "disk", "type": "VDI", "$SR": "other-sr", "$VBDs": ["vbd"]},
    "other-sr": {"id": "other-sr", "type": "SR", "$container": "other-pool"},
    "vbd": {"id": "vbd", "type": "VBD", "VDI": "disk", "VM": "running"},
    "disk-snap": {"id": "disk-snap", "type": "VDI-snapshot", "$snapshot_of": "disk"},
    "vif": {"id": "vif", "type": "VIF", "$VM": "halted", "$network": "other-net"},
    "pif": {"id": "pif", "type": "PIF", "$host": "host"},
    "pbd": {"id": "pbd", "type": "PBD", "host": "elsewhere", "SR": "local-sr"},
    "task": {"id": "task", "type": "task", "$host": "host"},
    "msg": {"id": "msg", "type": "message", "$object": "running"},
    "usb-group": {"id": "usb-group", "type": "USB_group", "PUSBs": ["pusb"]},
    "empty-usb-group": {"id": "empty-usb-group", "type": "USB_group", "PUSBs": []},
    "pusb": {"id": "pusb", "type": "PUSB", "host": "host"},
}


def viewable(entries: list[tuple[str, str]], graph: dict[str, Any] = GRAPH) -> set[str]:
    explicit = explicit_permissions(entries)
    return {i for i in graph if allowed(explicit, graph.get, i, "view")}


def test_a_pool_right_covers_what_the_pool_contains() -> None:
    assert viewable([("pool", "viewer")]) == {
        "pool", "host", "net", "shared-sr", "local-sr", "running", "halted", "snap", "tpl",
        "ctrl", "disk", "vbd", "disk-snap", "vif", "pif", "pbd", "task", "msg", "usb-group",
        "pusb",
    }  # fmt: skip


def test_a_host_right_covers_its_resident_vms_and_local_storage_not_the_pool() -> None:
    seen = viewable([("host", "viewer")])
    assert {"host", "running", "local-sr", "pif", "task", "ctrl", "disk", "vbd", "msg"} <= seen
    assert not seen & {"pool", "halted", "shared-sr", "net", "tpl", "snap", "vif"}


def test_a_vm_right_covers_its_disks_vifs_snapshots_and_messages() -> None:
    assert viewable([("halted", "operator")]) == {"halted", "snap", "vif"}
    assert viewable([("running", "viewer")]) == {"running", "disk", "vbd", "disk-snap", "msg"}


def test_own_entries_count_only_where_xo_counts_them() -> None:
    assert viewable([("disk", "admin"), ("vbd", "admin"), ("pif", "admin")]) == set()
    assert viewable([("snap", "viewer")]) == {"snap"}
    assert viewable([("other-pool", "viewer")]) == {
        "other-pool",
        "other-sr",
        "disk",
        "vbd",
        "disk-snap",
    }


def test_roles_grant_their_actions_only() -> None:
    explicit = explicit_permissions([("host", "viewer"), ("halted", "operator")])
    get = GRAPH.get
    assert allowed(explicit, get, "running", "view")
    assert not allowed(explicit, get, "running", "operate")
    assert allowed(explicit, get, "halted", "operate")
    assert not allowed(explicit, get, "halted", "administrate")
    assert allowed(explicit_permissions([("pool", "admin")]), get, "disk-snap", "administrate")


def test_an_empty_usb_group_and_unknown_ids_are_nobodys() -> None:
    explicit = explicit_permissions([("pool", "admin")])
    assert not allowed(explicit, GRAPH.get, "empty-usb-group", "view")
    assert not allowed(explicit, GRAPH.get, "nope", "view")
    assert allowed(explicit, GRAPH.get, "usb-group", "view")


def test_cycles_in_a_malformed_graph_deny_without_recursing_forever() -> None:
    graph = {
        "a": {"id": "a", "type": "host", "$pool": "b"},
        "b": {"id": "b", "type": "VM", "$container": "a"},
        "c": {"id": "c", "type": "VM", "$container": "c"},
        "d": {"id": "d", "type": "VM", "$container": "a"},
    }
    resolver = Resolver(explicit_permissions([("b", "viewer")]), graph.get)
    # Evaluating d first walks d -> a -> b (granted) and must not memoize a wrong denial.
    assert resolver.allowed("d", "view") and resolver.allowed("a", "view")
    assert not resolver.allowed("c", "view")
    fresh = Resolver(explicit_permissions([("a", "viewer")]), graph.get)
    assert fresh.allowed("b", "view") and fresh.allowed("d", "view")


def test_structure_and_links_name_only_what_the_evaluation_reads() -> None:
    vm = {"id": "v", "type": "VM", "$container": "h", "$pool": "p", "memory": 1}
    assert structure(vm) == ("VM", "h")
    assert structure({**vm, "memory": 2}) == structure(vm)
    assert links(GRAPH["disk"]) == {"other-sr", "vbd"}
    assert links(GRAPH["vbd"]) == {"disk", "running"}


def _rights_data(model: Rights) -> RightsData:
    groups: dict[str, list[str]] = {}
    for group, members in sorted(model.groups.items()):
        for user in members:
            groups.setdefault(user, []).append(group)
    return RightsData(
        dict.fromkeys(model.users, "none"),
        {u: tuple(g) for u, g in groups.items()},
        tuple(Acl(f"{s}/{o}/{r}", s, o, r) for s, o, r in sorted(model.acls)),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Any, Rights, list[Any]]:
    graph = draw(graphs())
    model = draw(rights(graph, ["alice", "bob"]))
    return graph, model, draw(changes(graph, model, max_size=8))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_live_views_always_equal_the_pure_evaluation(scenario: Any) -> None:
    """Memoized resolvers, the graph index and per-connection views, driven through random
    rights and graph changes, always agree with an evaluation from scratch, object contents
    included."""
    graph, model, steps = scenario
    objects = ObjectStore()
    objects.replace_pool("drawn", dict(graph))
    acl_rights = AclRights(objects)
    acl_rights.apply(_rights_data(model))
    assert acl_rights.graph is not None
    views, clients, feeds = {}, {}, {}
    for user in model.users:
        views[user] = ObjectView(acl_rights, objects, user)
        feeds[user] = (objects.subscribe(), acl_rights.graph.watch())
        views[user].start()
        clients[user] = {i: objects.get(i) for i in views[user].known}
    removed: dict[str, Any] = {}
    for step in steps:
        upserts, removals = apply_change(step, graph, removed, model)
        changed = acl_rights.apply(_rights_data(model))
        objects.apply("drawn", upserts, removals)
        for user in model.users:
            subscription, watch = feeds[user]
            view, client = views[user], clients[user]
            if user in changed:
                refresh = view.refresh_all()
                client.update(refresh.enter)
                for i in refresh.exit:
                    del client[i]
            batch = subscription.get_batch_nowait()
            step_changes = view.apply(batch.enter, batch.exit, watch.take())
            for i in step_changes.exit:
                del client[i]
            client.update(step_changes.enter)
            expected = model.expected(user, graph)
            assert view.known is not None and set(view.known) == expected, (step, user)
            assert client == {i: graph[i] for i in expected}, (step, user)
            resolver = acl_rights.resolver(user)
            explicit = model.explicit(user)
            for action in ACTIONS:
                for i in graph:
                    assert resolver.allowed(i, action) == allowed(explicit, graph.get, i, action)
