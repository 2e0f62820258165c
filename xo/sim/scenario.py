"""Deterministic worlds of simulated pools.

``build_world(pools=1, hosts=2, vms=10, seed=1, flavour="xenserver")``: same arguments, same
world (uuids, refs, names, MACs, disk contents). ``load_world(path)`` reads a JSON scenario file
(format in docs/sim.md)::

    {"seed": 1, "pools": [{"name": "Lab", "hosts": 3, "vms": 50, "flavour": "xcp-ng",
                           "username": "root", "password": "secret"}]}
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

from xo.sim import build_infra, build_vms, catalog
from xo.sim.build_infra import BuildContext
from xo.sim.db import Database
from xo.sim.disks import DiskStore
from xo.sim.pool import SimPool
from xo.sim.schema import IdSource
from xo.sim.timing import Timing
from xo.sim.vm_records import GiB

DEFAULT_USERNAME = "root"
DEFAULT_PASSWORD = "password"


@dataclass
class PoolSpec:
    name: str | None = None
    hosts: int = 2
    vms: int = 10
    flavour: str = "xenserver"
    username: str = DEFAULT_USERNAME
    password: str = DEFAULT_PASSWORD


@dataclass
class World:
    pools: list[SimPool] = field(default_factory=list)
    seed: int = 1


def build_pool(spec: PoolSpec, *, index: int, seed: int, timing: Timing | None = None) -> SimPool:
    if spec.flavour not in catalog.FLAVOURS:
        raise ValueError(f"unknown flavour {spec.flavour!r} (expected one of {catalog.FLAVOURS})")
    if spec.hosts < 1:
        raise ValueError("a pool needs at least one host")
    key = f"{seed}:{index}"
    db = Database(IdSource(key))
    disks = DiskStore(seed * 1_000 + index)
    name = spec.name or ("XCP-ng pool" if spec.flavour == "xcp-ng" else "XenServer pool") + (
        f" {index + 1}" if index else ""
    )
    ctx = BuildContext(db, disks, random.Random(key), index, spec.flavour, name)
    with db.bulk():
        build_infra.build_pool_and_hosts(ctx, spec.hosts)
        build_infra.build_networks(ctx)
        build_infra.build_storage(ctx)
        build_infra.build_control_domains(ctx)
        build_vms.build_templates(ctx)
        build_vms.build_vms(ctx, spec.vms)
        build_infra.build_updates(ctx)
        build_infra.build_messages(ctx)
    _account(db)
    return SimPool(
        name=name,
        db=db,
        disks=disks,
        flavour=spec.flavour,
        username=spec.username,
        password=spec.password,
        timing=timing,
    )


def _account(db: Database) -> None:
    """Host free memory and SR utilisation consistent with what the scenario placed."""
    used: dict[str, int] = {}
    for vm in db.all("VM").values():
        if vm["power_state"] in ("Running", "Paused"):
            host = vm["resident_on"]
            used[host] = used.get(host, 0) + vm["memory_static_max"] + vm["memory_overhead"]
    for ref, host in db.all("host").items():
        total = max(256 * GiB, (used.get(ref, 0) * 3 // 2 + 64 * GiB - 1) // (64 * GiB) * 64 * GiB)
        free = total - used.get(ref, 0) - host["memory_overhead"]
        db.update("host_metrics", host["metrics"], memory_total=total, memory_free=free)
    for ref, sr in db.all("SR").items():
        vdis = [db.get("VDI", v) for v in sr["VDIs"]]
        db.update(
            "SR",
            ref,
            virtual_allocation=sum(v["virtual_size"] for v in vdis),
            physical_utilisation=sum(v["physical_utilisation"] for v in vdis),
        )


def build_world(
    pools: int = 1,
    hosts: int = 2,
    vms: int = 10,
    seed: int = 1,
    flavour: str = "xenserver",
    timing: Timing | None = None,
    *,
    specs: list[PoolSpec] | None = None,
) -> World:
    """``pools`` identical pools (or the given ``specs``), deterministic by ``seed``."""
    timing = timing or Timing()
    if specs is None:
        specs = [PoolSpec(hosts=hosts, vms=vms, flavour=flavour) for _ in range(pools)]
    world = World(seed=seed)
    for index, spec in enumerate(specs):
        world.pools.append(build_pool(spec, index=index, seed=seed, timing=timing))
    return world


def parse_scenario(data: dict[str, Any]) -> tuple[int, list[PoolSpec]]:
    if not isinstance(data, dict) or not isinstance(data.get("pools"), list) or not data["pools"]:
        raise ValueError('a scenario is an object with a non-empty "pools" list')
    seed = data.get("seed", 1)
    if not isinstance(seed, int):
        raise ValueError('"seed" must be an integer')
    specs = []
    known = set(PoolSpec.__dataclass_fields__)
    for item in data["pools"]:
        if not isinstance(item, dict):
            raise ValueError("each pool must be an object")
        unknown = set(item) - known
        if unknown:
            raise ValueError(f"unknown pool keys: {sorted(unknown)}")
        specs.append(PoolSpec(**item))
    return seed, specs


def load_world(path: str | PathLike[str], timing: Timing | None = None) -> World:
    with open(path) as f:
        seed, specs = parse_scenario(json.load(f))
    return build_world(seed=seed, timing=timing, specs=specs)
