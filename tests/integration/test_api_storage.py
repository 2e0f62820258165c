"""sr.set, vdi.set, vdi.delete against the simulated pool."""

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


async def test_sr_set(xo: Xo) -> None:
    sr = xo.one(type="SR", name_label="NFS storage")
    params = {"id": sr["id"], "name_label": "shared", "name_description": ""}
    assert await xo.client.result("sr.set", params) is True
    record = xo.record("SR", sr)
    assert (record["name_label"], record["name_description"]) == ("shared", "")
    await xo.wait(lambda: xo.objects.get(sr["id"])["name_label"] == "shared")
    error = await xo.client.error("sr.set", {"id": sr["id"], "size": 1})
    assert error["code"] == 10
    error = await xo.client.error("sr.set", {"id": xo.one(type="VDI")["id"], "name_label": "x"})
    assert error["code"] == 1


async def test_vdi_set_grows_and_renames(xo: Xo) -> None:
    vdi = next(v for v in xo.find(type="VDI") if v["size"] >= GiB)
    params = {"id": vdi["id"], "name_label": "data", "size": vdi["size"] + GiB}
    assert await xo.client.result("vdi.set", params) is True
    record = xo.record("VDI", vdi)
    assert record["name_label"] == "data" and record["virtual_size"] == vdi["size"] + GiB
    await xo.wait(lambda: xo.objects.get(vdi["id"])["size"] == vdi["size"] + GiB)

    error = await xo.client.error("vdi.set", {"id": vdi["id"], "size": "1 KiB"})
    assert error["code"] == 10 and error["message"].startswith("cannot set new size (1024)")
    assert xo.record("VDI", vdi)["virtual_size"] == vdi["size"] + GiB


async def test_vdi_delete(xo: Xo) -> None:
    vm = xo.one(type="VM", power_state="Halted")
    vbd = next(xo.objects.get(v) for v in vm["$VBDs"] if not xo.objects.get(v)["is_cd_drive"])
    vdi = xo.objects.get(vbd["VDI"])
    assert await xo.client.result("vdi.delete", {"id": vdi["id"]}) is True
    assert not xo.db.exists("VDI", vdi["_xapiRef"])
    await xo.wait(lambda: xo.objects.get(vdi["id"]) is None)
    error = await xo.client.error("vdi.delete", {"id": vdi["id"]})
    assert error == {"message": f"no such VDI,VDI-snapshot {vdi['id']}", "code": 1,
                     "data": {"id": vdi["id"], "type": ["VDI", "VDI-snapshot"]}}  # fmt: skip
