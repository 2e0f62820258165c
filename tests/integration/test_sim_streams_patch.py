"""Patch uploads: legacy `PUT /pool_patch_upload` and the pool_update path XO uses on newer hosts
(`VDI.create` + `PUT /import_raw_vdi` + `pool_update.introduce`)."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import XenAPI

from xo.sim.patches import make_update_file


def _url(pool, path: str, **params: str) -> str:
    return f"{pool.master_url}{path}?{urlencode(params)}"


async def test_pool_patch_upload_returns_a_bare_pool_patch_ref(xenapi, sim_pool, http_request):
    session = xenapi.session._session
    update_uuid = str(uuid.uuid4())
    data = make_update_file(update_uuid, "XS-HOTFIX-1", "1.0", payload=b"\x01" * 100_000)
    task = await xenapi.call("task.create", "upload", "")
    reply = await http_request(
        "PUT", _url(sim_pool, "/pool_patch_upload", session_id=session, task_id=task), body=data
    )
    assert reply.status == 200 and reply.headers["task-id"] == task
    record = await xenapi.call("task.get_record", task)
    assert record["status"] == "success", record["error_info"]
    patch = record["result"]
    assert patch.startswith("OpaqueRef:") and "<value>" not in patch  # bare, not XML-wrapped
    patch_record = await xenapi.call("pool_patch.get_record", patch)
    assert patch_record["uuid"] == update_uuid
    assert patch_record["name_label"] == "XS-HOTFIX-1"


async def test_pool_patch_upload_of_garbage_fails_and_cleans_up(xenapi, sim_pool, http_request):
    session = xenapi.session._session
    vdis_before = set(await xenapi.call("VDI.get_all"))
    task = await xenapi.call("task.create", "upload", "")
    reply = await http_request(
        "PUT",
        _url(sim_pool, "/pool_patch_upload", session_id=session, task_id=task),
        body=b"not an update" * 100,
    )
    assert reply.status == 200
    record = await xenapi.call("task.get_record", task)
    assert record["status"] == "failure"
    assert set(await xenapi.call("VDI.get_all")) == vdis_before


async def test_pool_update_path_import_raw_vdi_then_introduce(xenapi, sim_pool, http_request):
    session = xenapi.session._session
    update_uuid = str(uuid.uuid4())
    data = make_update_file(update_uuid, "XS82ECU1099", "1.0")
    sr = await xenapi.call("pool.get_default_SR", (await xenapi.call("pool.get_all"))[0])
    vdi = await xenapi.call(
        "VDI.create",
        {
            "name_label": "update upload",
            "name_description": "",
            "SR": sr,
            "virtual_size": str(len(data)),
            "type": "user",
            "sharable": False,
            "read_only": False,
            "other_config": {},
        },
    )
    reply = await http_request(
        "PUT",
        _url(sim_pool, "/import_raw_vdi/", session_id=session, vdi=vdi, format="raw"),
        body=data,
    )
    assert sim_pool.pool.db.get("task", reply.headers["task-id"])["status"] == "success"
    update = await xenapi.call("pool_update.introduce", vdi)
    assert (await xenapi.call("pool_update.get_uuid", update)) == update_uuid
    try:
        await xenapi.call("pool_update.introduce", vdi)
    except XenAPI.Failure as exc:
        assert exc.details == ["UPDATE_ALREADY_EXISTS", update_uuid]
    else:
        raise AssertionError("introducing the same update twice succeeded")
