"""pool_update / pool_patch lifecycle and the XCP-ng updater plugin."""

from __future__ import annotations

import json

import pytest
import trio
from sim_client import Client, assert_well_typed

from xo.formats.xmlrpc import parse_value_fragment
from xo.sim.errors import XapiFailure
from xo.sim.patches import make_update_file
from xo.sim.scenario import build_world
from xo.sim.timing import Timing
from xo.sim.updater import Package

UUID_A = "11111111-2222-4333-8444-555555555555"
UUID_B = "11111111-2222-4333-8444-666666666666"


def _upload(xapi: Client, data: bytes) -> str:
    pool = xapi.pool
    vdi = pool.create_vdi(pool.db.get("pool", pool.pool_ref)["default_SR"], len(data), name_label="update")
    pool.disks.write(vdi, 0, data)
    return vdi


async def test_introduce_precheck_pool_apply(xapi: Client) -> None:
    db = xapi.pool.db
    vdi = _upload(xapi, make_update_file(UUID_A, "XS82E099", "1.0", software_version={"build_number": "patched"}))
    update = await xapi("pool_update.introduce", vdi)
    rec = db.get("pool_update", update)
    assert rec["uuid"] == UUID_A and rec["name_label"] == "XS82E099" and rec["vdi"] == vdi
    assert rec["hosts"] == []
    patch = next(r for r, p in db.all("pool_patch").items() if p["pool_update"] == update)
    for host in xapi.pool.host_refs:
        assert await xapi("pool_update.precheck", update, host) == "ok"
    with pytest.raises(XapiFailure) as error:
        await xapi("pool_update.introduce", vdi)
    assert error.value.description == ["UPDATE_ALREADY_EXISTS", UUID_A]
    await xapi("pool_update.pool_apply", update)
    assert set(db.get("pool_update", update)["hosts"]) == set(xapi.pool.host_refs)
    for host in xapi.pool.host_refs:
        host_rec = db.get("host", host)
        assert update in host_rec["updates"]
        assert update in host_rec["updates_requiring_reboot"]
        assert host_rec["software_version"]["build_number"] == "patched"
        with pytest.raises(XapiFailure) as error:
            await xapi("pool_update.precheck", update, host)
        assert error.value.description == ["UPDATE_ALREADY_APPLIED", update]
    assert db.get("pool_patch", patch)["pool_applied"] is True
    assert len([h for h in db.all("host_patch").values() if h["pool_patch"] == patch]) == 2
    with pytest.raises(XapiFailure) as error:
        await xapi("pool_update.pool_apply", update)
    assert error.value.description == ["UPDATE_ALREADY_APPLIED_IN_POOL"]
    assert_well_typed(xapi.pool)
    await xapi("pool_update.pool_clean", update)
    assert db.get("pool_update", update)["vdi"] == "OpaqueRef:NULL"
    with pytest.raises(XapiFailure) as error:
        await xapi("pool_update.destroy", update)
    assert error.value.code == "UPDATE_IS_APPLIED"


async def test_precheck_failures(xapi: Client) -> None:
    needs = _upload(xapi, make_update_file(UUID_B, "needs-a", requires=[UUID_A]))
    update = await xapi("pool_update.introduce", needs)
    host = xapi.pool.master_ref
    with pytest.raises(XapiFailure) as error:
        await xapi("pool_update.precheck", update, host)
    assert error.value.description == ["UPDATE_PRECHECK_FAILED_PREREQUISITE_MISSING", update, UUID_A]
    wrong = _upload(xapi, make_update_file(UUID_A, "for-another-version", platform_version="9.9.9"))
    other = await xapi("pool_update.introduce", wrong)
    with pytest.raises(XapiFailure) as error:
        await xapi("pool_update.apply", other, host)
    assert error.value.code == "UPDATE_PRECHECK_FAILED_WRONG_SERVER_VERSION"
    garbage = _upload(xapi, b"not an update at all")
    with pytest.raises(XapiFailure) as error:
        await xapi("pool_update.introduce", garbage)
    assert error.value.code == "INVALID_UPDATE"
    await xapi("pool_update.destroy", other)
    assert not xapi.pool.db.exists("pool_update", other)


async def test_legacy_pool_patch_upload_and_apply(xapi: Client) -> None:
    db = xapi.pool.db
    vdi = _upload(xapi, make_update_file(UUID_A, "XS82E100"))
    patch = xapi.pool.patches.upload(vdi, xapi.pool.master_ref)
    assert db.get("pool_patch", patch)["name_label"] == "XS82E100"
    host = xapi.pool.host_refs[1]
    assert await xapi("pool_patch.precheck", patch, host) == ""
    assert await xapi("pool_patch.apply", patch, host) == ""
    with pytest.raises(XapiFailure) as error:
        await xapi("pool_patch.apply", patch, host)
    assert error.value.description == ["PATCH_ALREADY_APPLIED", patch]
    await xapi("pool_patch.pool_apply", patch)
    assert db.get("pool_patch", patch)["pool_applied"] is True


async def test_scenario_xenserver_hosts_carry_applied_updates(xapi: Client) -> None:
    db = xapi.pool.db
    for host in xapi.pool.host_refs:
        assert len(db.get("host", host)["updates"]) == 2
        assert db.get("host", host)["patches"]


async def test_updater_plugin_check_update_query_installed() -> None:
    world = build_world(pools=1, hosts=2, vms=2, flavour="xcp-ng", timing=Timing.fast())
    async with world.pools[0].running() as pool:
        xapi = Client(pool)
        await xapi.login()
        host = pool.master_ref
        pending = json.loads(await xapi("host.call_plugin", host, "updater.py", "check_update", {}))
        assert {p["name"] for p in pending} == {"xapi-core", "xen-hypervisor", "sm", "xcp-ng-release"}
        assert set(pending[0]) == {"name", "version", "release", "description", "changelog", "url", "size", "license"}
        installed = json.loads(await xapi("host.call_plugin", host, "updater.py", "query_installed", {"packages": "sm,nope"}))
        assert installed == {"sm": "sm-3.2.3-1.3.xcpng8.3.x86_64", "nope": ""}
        task = await xapi("Async.host.call_plugin", host, "updater.py", "update", {})
        with trio.fail_after(5):
            while pool.db.get("task", task)["status"] == "pending":
                await pool.db.changed().wait()
        result = json.loads(parse_value_fragment(pool.db.get("task", task)["result"]))
        assert result["returncode"] == 0 and "Complete!" in result["stdout"]
        assert json.loads(await xapi("host.call_plugin", host, "updater.py", "check_update", {})) == []
        other = pool.host_refs[1]
        assert len(json.loads(await xapi("host.call_plugin", other, "updater.py", "check_update", {}))) == 4
        pool.updater.publish(Package("sm", "3.2.3", "1.9.xcpng8.3", "Storage manager"))
        assert [p["release"] for p in json.loads(await xapi("host.call_plugin", host, "updater.py", "check_update", {}))] == ["1.9.xcpng8.3"]
        with pytest.raises(XapiFailure) as error:
            await xapi("host.call_plugin", host, "updater.py", "frobnicate", {})
        assert error.value.description == ["UNKNOWN_XENAPI_PLUGIN_FUNCTION", "frobnicate"]


async def test_updater_plugin_busy_lock() -> None:
    world = build_world(pools=1, hosts=1, vms=0, flavour="xcp-ng", timing=Timing.fast(plugin_call=5.0))
    async with world.pools[0].running() as pool:
        xapi = Client(pool)
        await xapi.login()
        host = pool.master_ref
        errors = []

        async def first() -> None:
            await xapi("host.call_plugin", host, "updater.py", "check_update", {})

        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(first)
                await trio.testing.wait_all_tasks_blocked()
                try:
                    await xapi("host.call_plugin", host, "updater.py", "check_update", {})
                except XapiFailure as error:
                    errors.append(error.description)
        assert errors == [["-1", "The updater plugin is busy (current operation: check_update)", "", ""]]


async def test_updater_plugin_missing_on_xenserver(xapi: Client) -> None:
    with pytest.raises(XapiFailure) as error:
        await xapi("host.call_plugin", xapi.pool.master_ref, "updater.py", "check_update", {})
    assert error.value.description == ["XENAPI_MISSING_PLUGIN", "updater.py"]
