"""vm.create from a template against the simulated pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from xo_harness import Xo, open_xo

from xo.sim.serve import RunningPool

GiB = 1 << 30


@pytest.fixture
async def xo(sim_pool: RunningPool, tmp_path: Path) -> AsyncIterator[Xo]:
    async with open_xo(sim_pool, tmp_path) as harness:
        yield harness


async def test_create_with_disks_interfaces_cd_and_boot(xo: Xo) -> None:
    template = xo.one(type="VM-template", name_label="Debian Bookworm 12")
    sr = xo.one(type="SR", name_label="NFS storage")
    network = next(n for n in xo.find(type="network") if "eth0" in n["name_label"])
    iso = xo.one(type="VDI", name_label="debian-12.5.0-amd64-netinst.iso")
    vm_id = await xo.client.result(
        "vm.create",
        {
            "template": template["id"],
            "name_label": "new-vm",
            "name_description": "made by a test",
            "CPUs": 2,
            "memoryMax": 2 * GiB,
            "VDIs": [{"size": "10 GiB", "SR": sr["id"], "type": "user", "name_label": "root"}],
            "VIFs": [{"network": network["id"], "mac": "02:00:00:00:00:01"}],
            "installation": {"method": "cdrom", "repository": iso["id"]},
            "bootAfterCreate": True,
        },
    )
    vm = xo.objects.get(vm_id)
    assert vm["type"] == "VM" and vm["name_label"] == "new-vm"
    assert vm["name_description"] == "made by a test"
    assert vm["creation"]["template"] == template["uuid"]
    record = xo.record("VM", vm)
    assert record["is_a_template"] is False and "disks" not in record["other_config"]
    assert record["VCPUs_at_startup"] == 2 and record["memory_dynamic_max"] == 2 * GiB
    assert record["power_state"] == "Running"
    assert record["HVM_boot_params"]["order"].startswith("d")
    vbds = [xo.db.get("VBD", ref) for ref in record["VBDs"]]
    cd = next(v for v in vbds if v["type"] == "CD")
    assert cd["VDI"] == iso["_xapiRef"] and cd["bootable"]
    (disk,) = [v for v in vbds if v["type"] == "Disk"]
    vdi = xo.db.get("VDI", disk["VDI"])
    assert (vdi["name_label"], vdi["virtual_size"], vdi["SR"]) == ("root", 10 * GiB, sr["_xapiRef"])
    (vif,) = [xo.db.get("VIF", ref) for ref in record["VIFs"]]
    assert vif["MAC"] == "02:00:00:00:00:01" and vif["network"] == network["_xapiRef"]
    assert xo.record("VM", template)["is_a_template"] is True  # the template is untouched


async def test_create_failures_leave_nothing_behind(xo: Xo) -> None:
    template = xo.one(type="VM-template", name_label="Rocky Linux 9")
    before = len(xo.db.all("VM"))
    error = await xo.client.error(
        "vm.create",
        {
            "template": template["id"],
            "name_label": "doomed",
            "VDIs": [{"size": 1, "SR": "no-such-sr"}],
        },
    )
    assert error["code"] == 10
    assert len(xo.db.all("VM")) == before
    assert not [vm for vm in xo.db.all("VM").values() if vm["name_label"] == "doomed"]

    error = await xo.client.error("vm.create", {"template": "nope", "name_label": "x"})
    assert error["code"] == 1
    error = await xo.client.error("vm.create", {"template": template["id"]})
    assert error["code"] == 10  # name_label is required
    vm = xo.one(type="VM")
    error = await xo.client.error("vm.create", {"template": vm["id"], "name_label": "x"})
    assert error["code"] == 1  # not a template


async def test_create_from_a_custom_template_grows_its_disk(xo: Xo) -> None:
    source = xo.one(type="VM", power_state="Halted")
    await xo.client.result("vm.convertToTemplate", {"id": source["id"]})
    template = await xo.wait(
        lambda: (t := xo.objects.get(source["id"])) and t["type"] == "VM-template" and t
    )
    first = next(
        xo.db.get("VBD", ref)
        for ref in xo.record("VM", template)["VBDs"]
        if xo.db.get("VBD", ref)["type"] == "Disk"
    )
    size = xo.db.get("VDI", first["VDI"])["virtual_size"]
    vm_id = await xo.client.result(
        "vm.create",
        {
            "template": template["id"],
            "name_label": "from custom",
            "clone": False,  # full copy of the template's disks
            "existingDisks": {first["userdevice"]: {"name_label": "system", "size": size + GiB}},
        },
    )
    vm = xo.objects.get(vm_id)
    vbds = [xo.db.get("VBD", ref) for ref in xo.record("VM", vm)["VBDs"]]
    disk = next(v for v in vbds if v["userdevice"] == first["userdevice"])
    vdi = xo.db.get("VDI", disk["VDI"])
    assert disk["VDI"] != first["VDI"]  # a copy, not the template's disk
    assert (vdi["name_label"], vdi["virtual_size"]) == ("system", size + GiB)
    assert xo.record("VM", vm)["VIFs"] == []  # as XO: only the VIFs asked for
