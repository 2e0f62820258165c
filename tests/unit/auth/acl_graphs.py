"""Hypothesis strategies for ACL tests: well-formed XO object graphs, rights data, and changes
to both. Shared by tests/unit/auth and the live test over WebSockets
(tests/integration/test_acl_properties.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from xo.auth.acl import ROLES, allowed, explicit_permissions

Graph = dict[str, dict[str, Any]]


def _obj(object_id: str, type_: str, **links: Any) -> dict[str, Any]:
    obj = {
        "id": object_id,
        "type": type_,
        "name_label": object_id,
        "_xapiRef": f"OpaqueRef:{object_id}",
    }
    obj.update({k: v for k, v in links.items() if v is not None})
    return obj


@st.composite
def graphs(draw: st.DrawFn, max_each: int = 4) -> Graph:
    """Pools, hosts, networks, SRs, VMs, snapshots, templates, VDIs, VBDs, VIFs, PIFs, PBDs,
    VDI snapshots and messages, linked as xo/objects links them."""
    n = lambda low=0: draw(st.integers(low, max_each))  # noqa: E731
    g: Graph = {}
    pools = [f"pool{i}" for i in range(draw(st.integers(1, 2)))]
    for p in pools:
        g[p] = _obj(p, "pool")
    hosts_of: dict[str, list[str]] = {p: [] for p in pools}
    for i in range(n()):
        pool = draw(st.sampled_from(pools))
        g[f"host{i}"] = _obj(f"host{i}", "host", **{"$pool": pool})
        hosts_of[pool].append(f"host{i}")

    def container(pool: str) -> str:
        return draw(st.sampled_from([pool, *hosts_of[pool]]))

    networks = []
    for i in range(n()):
        pool = draw(st.sampled_from(pools))
        g[f"net{i}"] = _obj(f"net{i}", "network", **{"$pool": pool})
        networks.append(f"net{i}")
    srs = []
    for i in range(n()):
        pool = draw(st.sampled_from(pools))
        g[f"sr{i}"] = _obj(f"sr{i}", "SR", **{"$pool": pool, "$container": container(pool)})
        srs.append(f"sr{i}")
    vms = []
    for i in range(n()):
        pool = draw(st.sampled_from(pools))
        g[f"vm{i}"] = _obj(f"vm{i}", "VM", **{"$pool": pool, "$container": container(pool)})
        vms.append(f"vm{i}")
    for i in range(n() if vms else 0):
        vm = draw(st.sampled_from(vms))
        g[f"snap{i}"] = _obj(
            f"snap{i}", "VM-snapshot", **{"$pool": g[vm]["$pool"], "$snapshot_of": vm}
        )
        vms.append(f"snap{i}")
    for i in range(draw(st.integers(0, 2))):
        g[f"tpl{i}"] = _obj(f"tpl{i}", "VM-template", **{"$pool": draw(st.sampled_from(pools))})
    vdis = []
    for i in range(n() if srs else 0):
        g[f"vdi{i}"] = _obj(f"vdi{i}", "VDI", **{"$SR": draw(st.sampled_from(srs)), "$VBDs": []})
        vdis.append(f"vdi{i}")
    for i in range(n() if vdis and vms else 0):
        vdi = draw(st.sampled_from(vdis))
        g[f"vbd{i}"] = _obj(f"vbd{i}", "VBD", VDI=vdi, VM=draw(st.sampled_from(vms)))
        g[vdi]["$VBDs"] = [*g[vdi]["$VBDs"], f"vbd{i}"]
    for i in range(draw(st.integers(0, 2)) if vdis else 0):
        g[f"vdisnap{i}"] = _obj(
            f"vdisnap{i}", "VDI-snapshot", **{"$snapshot_of": draw(st.sampled_from(vdis))}
        )
    for i in range(n() if vms else 0):
        network = draw(st.sampled_from([None, *networks]))
        g[f"vif{i}"] = _obj(
            f"vif{i}", "VIF", **{"$VM": draw(st.sampled_from(vms)), "$network": network}
        )
    hosts = [h for hs in hosts_of.values() for h in hs]
    for i in range(n() if hosts else 0):
        g[f"pif{i}"] = _obj(f"pif{i}", "PIF", **{"$host": draw(st.sampled_from(hosts))})
    for i in range(n() if hosts and srs else 0):
        g[f"pbd{i}"] = _obj(
            f"pbd{i}", "PBD", host=draw(st.sampled_from(hosts)), SR=draw(st.sampled_from(srs))
        )
    ids = sorted(g)
    for i in range(draw(st.integers(0, 2))):
        g[f"msg{i}"] = _obj(f"msg{i}", "message", **{"$object": draw(st.sampled_from(ids))})
    return g


@dataclass
class Rights:
    """The test's own model of users, groups and ACL entries."""

    users: list[str]
    groups: dict[str, set[str]] = field(default_factory=dict)  # group -> member users
    acls: set[tuple[str, str, str]] = field(default_factory=set)  # (subject, object, role)

    def explicit(self, user: str) -> dict[str, frozenset[str]]:
        subjects = {user} | {g for g, members in self.groups.items() if user in members}
        return explicit_permissions((o, r) for s, o, r in self.acls if s in subjects)

    def expected(self, user: str, graph: Graph) -> set[str]:
        """What ``user`` may view: the pure evaluation, without any memo."""
        explicit = self.explicit(user)
        return {i for i in graph if allowed(explicit, graph.get, i, "view")}


@st.composite
def rights(draw: st.DrawFn, graph: Graph, users: list[str], n_groups: int = 2) -> Rights:
    groups = {
        f"group{i}": set(draw(st.lists(st.sampled_from(users), unique=True)))
        for i in range(draw(st.integers(0, n_groups)))
    }
    model = Rights(users, groups)
    subjects = [*users, *groups]
    targets = sorted(graph)
    model.acls = set(
        draw(
            st.lists(
                st.tuples(
                    st.sampled_from(subjects),
                    st.sampled_from(targets),
                    st.sampled_from(list(ROLES)),
                ),
                max_size=6,
            )
        )
    )
    return model


# A change: ("acl+", subject, object, role) | ("acl-", subject, object, role) |
# ("join", group, user) | ("leave", group, user) | ("move", vm, container) |
# ("remove", id) | ("restore", id) | ("relink", vbd, vm)
Change = tuple[Any, ...]


@st.composite
def changes(draw: st.DrawFn, graph: Graph, model: Rights, max_size: int = 5) -> list[Change]:
    subjects = [*model.users, *model.groups]
    ids = sorted(graph)
    vms = [i for i in ids if graph[i]["type"] == "VM"]
    vbds = [i for i in ids if graph[i]["type"] == "VBD"]
    containers = [i for i in ids if graph[i]["type"] in ("pool", "host")]
    options = [
        st.tuples(
            st.just("acl+"),
            st.sampled_from(subjects),
            st.sampled_from(ids),
            st.sampled_from(list(ROLES)),
        ),
        st.tuples(st.just("remove"), st.sampled_from(ids)),
        st.tuples(st.just("restore"), st.sampled_from(ids)),
    ]
    if model.acls:
        options.append(st.sampled_from(sorted(model.acls)).map(lambda a: ("acl-", *a)))
    if model.groups:
        options.append(
            st.tuples(
                st.sampled_from(["join", "leave"]),
                st.sampled_from(sorted(model.groups)),
                st.sampled_from(model.users),
            )
        )
    if vms:
        options.append(
            st.tuples(st.just("move"), st.sampled_from(vms), st.sampled_from(containers))
        )
    if vbds and vms:
        options.append(st.tuples(st.just("relink"), st.sampled_from(vbds), st.sampled_from(vms)))
    return draw(st.lists(st.one_of(options), min_size=1, max_size=max_size))


def apply_change(
    change: Change, graph: Graph, removed: Graph, model: Rights
) -> tuple[Graph, list[str]]:
    """Apply ``change`` to the test's model; returns the graph upserts and removals it makes."""
    kind = change[0]
    if kind == "acl+":
        model.acls.add(change[1:])
    elif kind == "acl-":
        model.acls.discard(change[1:])
    elif kind == "join":
        model.groups[change[1]].add(change[2])
    elif kind == "leave":
        model.groups[change[1]].discard(change[2])
    elif kind == "move" and change[1] in graph:
        vm = {**graph[change[1]], "$container": change[2]}
        graph[vm["id"]] = vm
        return {vm["id"]: vm}, []
    elif kind == "relink" and change[1] in graph:
        vbd = {**graph[change[1]], "VM": change[2]}
        graph[vbd["id"]] = vbd
        return {vbd["id"]: vbd}, []
    elif kind == "remove" and change[1] in graph:
        removed[change[1]] = graph.pop(change[1])
        return {}, [change[1]]
    elif kind == "restore" and change[1] in removed:
        obj = {**removed.pop(change[1]), "name_label": f"{change[1]} again"}
        graph[obj["id"]] = obj
        return {obj["id"]: obj}, []
    return {}, []
