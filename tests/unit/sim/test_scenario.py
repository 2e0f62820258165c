"""Scenario worlds: deterministic, consistent, realistic enough for Xen Orchestra."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sim_client import assert_well_typed

from xo.sim.scenario import build_world, load_world, parse_scenario
from xo.sim.schema import NULL_REF


def test_same_seed_same_world_different_seed_different_world() -> None:
    a = build_world(pools=2, hosts=2, vms=20, seed=3).pools
    b = build_world(pools=2, hosts=2, vms=20, seed=3).pools
    c = build_world(pools=2, hosts=2, vms=20, seed=4).pools
    for left, right in zip(a, b, strict=True):
        assert left.db.tables == right.db.tables
        assert left.uuid == right.uuid
    assert a[0].db.tables["VM"].keys() != c[0].db.tables["VM"].keys()
    assert a[0].uuid != a[1].uuid


def test_world_shape() -> None:
    pool = build_world(pools=1, hosts=3, vms=30, seed=1).pools[0]
    db = pool.db
    assert len(pool.host_refs) == 3 and pool.master_ref == pool.host_refs[0]
    dom0s = [r for r, v in db.all("VM").items() if v["is_control_domain"]]
    assert len(dom0s) == 3
    for host in pool.host_refs:
        rec = db.get("host", host)
        assert rec["control_domain"] in dom0s
        assert db.get("host_metrics", rec["metrics"])["live"] is True
        assert len(rec["host_CPUs"]) == 16 and len(rec["PIFs"]) == 2 and len(rec["PBDs"]) >= 4
        assert rec["software_version"]["product_brand"] == "XenServer"
    guests = {r: v for r, v in db.all("VM").items() if not (v["is_control_domain"] or v["is_a_template"] or v["is_a_snapshot"])}
    assert len(guests) == 30
    states = {v["power_state"] for v in guests.values()}
    assert states == {"Running", "Halted"}
    templates = [v["name_label"] for v in db.all("VM").values() if v["is_default_template"]]
    assert "Debian Bookworm 12" in templates and "Windows Server 2022 (64-bit)" in templates
    assert any(v["is_a_snapshot"] for v in db.all("VM").values())
    for ref, vm in guests.items():
        assert vm["metrics"] in db.all("VM_metrics")
        assert vm["allowed_operations"]
        if vm["power_state"] == "Running":
            assert ref in db.get("host", vm["resident_on"])["resident_VMs"]
            assert vm["consoles"]
        else:
            assert vm["resident_on"] == NULL_REF and vm["consoles"] == []
        for vbd in vm["VBDs"]:
            rec = db.get("VBD", vbd)
            if rec["type"] == "Disk":
                size = db.get("VDI", rec["VDI"])["virtual_size"]
                assert 10 << 30 <= size <= 100 << 30
                assert pool.disks.size(rec["VDI"]) == size
    assert db.get("pool", pool.pool_ref)["default_SR"] in db.all("SR")
    assert {s["type"] for s in db.all("SR").values()} >= {"nfs", "lvm", "iso"}
    assert len(db.all("SM")) >= 5
    assert len(db.all("message")) >= 3
    assert db.all("pool_update")
    for host in pool.host_refs:
        metrics = db.get("host_metrics", db.get("host", host)["metrics"])
        assert 0 < metrics["memory_free"] < metrics["memory_total"]


def test_xcp_ng_flavour() -> None:
    pool = build_world(pools=1, hosts=1, vms=3, flavour="xcp-ng").pools[0]
    host = pool.db.get("host", pool.master_ref)
    assert host["software_version"]["product_brand"] == "XCP-ng"
    assert host["software_version"]["product_version"] == "8.3.0"
    assert not pool.db.all("pool_update")
    assert any(s["type"] == "ext" for s in pool.db.all("SR").values())


def test_load_world_from_file(tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps({"seed": 5, "pools": [{"name": "Lab", "hosts": 1, "vms": 4, "flavour": "xcp-ng", "password": "s3cret"}, {"hosts": 2, "vms": 1}]}))
    world = load_world(path)
    assert [p.name for p in world.pools][0] == "Lab"
    assert world.pools[0].password == "s3cret" and world.pools[0].flavour == "xcp-ng"
    assert len(world.pools[1].host_refs) == 2
    assert world.pools[0].db.tables == load_world(path).pools[0].db.tables


@pytest.mark.parametrize("bad", [{}, {"pools": []}, {"pools": [{"hosts": 1, "colour": "red"}]}, {"seed": "x", "pools": [{}]}])
def test_bad_scenario_files_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        parse_scenario(bad)


def test_ten_thousand_vms_build() -> None:
    pool = build_world(pools=1, hosts=4, vms=10_000, seed=2).pools[0]
    guests = [v for v in pool.db.all("VM").values() if not (v["is_control_domain"] or v["is_a_template"] or v["is_a_snapshot"])]
    assert len(guests) == 10_000



def test_every_record_is_well_typed() -> None:
    """Every field of every record of a world holds a value of its datamodel type."""
    for flavour in ("xenserver", "xcp-ng"):
        assert_well_typed(build_world(pools=1, hosts=2, vms=25, seed=6, flavour=flavour).pools[0])
