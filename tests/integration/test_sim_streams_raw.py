"""GET /export_raw_vdi and PUT /import_raw_vdi: raw and VHD streams, checked with qemu-img (an
independent VHD reader), plus the handler rules shared by every transfer (auth, task adoption)."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from urllib.parse import urlencode

import trio
import XenAPI
from early_close import put_announcing_1_pib

from xo.formats import xmlrpc

QEMU_IMG = "/usr/bin/qemu-img"
MiB = 1 << 20


def _content(size: int, seed: int = 5) -> bytes:
    """Disk bytes with data, zero runs and a partial last block."""
    rng = random.Random(seed)
    data = bytearray(size)
    for start in range(0, size, MiB):
        if rng.random() < 0.6:
            end = min(size, start + rng.randrange(1, MiB))
            data[start:end] = rng.randbytes(end - start)
    data[-100:] = b"end of disk!" * 8 + b"-tail"[: 100 - 96]
    return bytes(data)


async def _qemu_img(*args: str) -> str:
    result = await trio.run_process(
        [QEMU_IMG, *args], capture_stdout=True, capture_stderr=True, check=False
    )
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout.decode()


async def _qemu_check_vhd(path: Path) -> None:
    """`qemu-img check -f vpc`: qemu's vpc driver has no consistency checker (exit 63, "does not
    support checks"), so opening the image (footer and header checksums, BAT) via `info` and
    reading it all via `compare`/`map` are what prove it valid."""
    result = await trio.run_process(
        [QEMU_IMG, "check", "-f", "vpc", str(path)],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    assert result.returncode == 0 or (
        result.returncode == 63 and b"does not support checks" in result.stderr
    ), result.stderr
    info = json.loads(await _qemu_img("info", "--output=json", "-f", "vpc", str(path)))
    assert info["format"] == "vpc"


def _url(pool, path: str, **params: str) -> str:
    return f"{pool.master_url}{path}?{urlencode(params)}"


async def _import_new_vdi(http_request, pool, session: str, data: bytes) -> str:
    sr = pool.pool.db.get("pool", pool.pool.pool_ref)["default_SR"]
    reply = await http_request(
        "PUT", _url(pool, "/import_raw_vdi/", session_id=session, sr_id=sr, format="raw"), body=data
    )
    assert reply.status == 200, reply
    task = reply.headers["task-id"]
    record = pool.pool.db.get("task", task)
    assert record["status"] == "success", record["error_info"]
    vdi = xmlrpc.parse_value_fragment(record["result"])
    assert record["result"] == f"<value>{vdi}</value>"
    return vdi


async def test_raw_import_then_raw_and_vhd_exports_agree(
    xenapi, sim_pool, http_request, tmp_path: Path
):
    session = xenapi.session._session
    data = _content(7 * MiB + 4096 + 100)
    vdi = await _import_new_vdi(http_request, sim_pool, session, data)
    record = await xenapi.call("VDI.get_record", vdi)
    assert int(record["virtual_size"]) == len(data)

    raw = await http_request("GET", _url(sim_pool, "/export_raw_vdi/", session_id=session, vdi=vdi))
    assert raw.status == 200
    assert raw.headers["content-type"] == "application/octet-stream"
    assert f'filename="{record["uuid"]}.raw"' in raw.headers["content-disposition"]
    assert raw.body == data

    vhd = await http_request(
        "GET",
        _url(sim_pool, "/export_raw_vdi", session_id=session, vdi=record["uuid"], format="vhd"),
    )
    assert vhd.status == 200
    assert vhd.headers["content-type"] == "application/vhd"
    (tmp_path / "disk.raw").write_bytes(raw.body)
    (tmp_path / "disk.vhd").write_bytes(vhd.body)
    await _qemu_check_vhd(tmp_path / "disk.vhd")
    out = await _qemu_img(
        "compare", "-f", "vpc", "-F", "raw", str(tmp_path / "disk.vhd"), str(tmp_path / "disk.raw")
    )
    assert "identical" in out.lower()


async def test_vhd_import_into_an_existing_vdi_round_trips(xenapi, sim_pool, http_request):
    session = xenapi.session._session
    data = _content(5 * MiB, seed=9)
    source = await _import_new_vdi(http_request, sim_pool, session, data)
    target = await _import_new_vdi(http_request, sim_pool, session, bytes(len(data)))
    vhd = await http_request(
        "GET", _url(sim_pool, "/export_raw_vdi/", session_id=session, vdi=source, format="vhd")
    )
    reply = await http_request(
        "PUT",
        _url(sim_pool, "/import_raw_vdi/", session_id=session, vdi=target, format="vhd"),
        body=vhd.body,
    )
    assert reply.status == 200
    task = sim_pool.pool.db.get("task", reply.headers["task-id"])
    assert task["status"] == "success", task["error_info"]
    back = await http_request(
        "GET", _url(sim_pool, "/export_raw_vdi/", session_id=session, vdi=target)
    )
    assert back.body == data


async def test_scenario_disk_exports_as_a_valid_sparse_vhd(
    xenapi, sim_pool, http_request, tmp_path: Path
):
    session = xenapi.session._session
    records = await xenapi.call("VDI.get_all_records")
    srs = await xenapi.call("SR.get_all_records")
    vdi, record = max(
        (
            (ref, r)
            for ref, r in records.items()
            if srs[r["SR"]]["shared"] and srs[r["SR"]]["content_type"] != "iso"
        ),
        key=lambda item: int(item[1]["virtual_size"]),
    )
    size = int(record["virtual_size"])
    assert size >= 1 << 30  # gigabytes of virtual disk...
    vhd = await http_request(
        "GET", _url(sim_pool, "/export_raw_vdi/", session_id=session, vdi=vdi, format="vhd")
    )
    assert len(vhd.body) < 64 * MiB  # ...streamed as a sparse VHD of its allocated blocks only
    path = tmp_path / "scenario.vhd"
    path.write_bytes(vhd.body)
    await _qemu_check_vhd(path)
    info = json.loads(await _qemu_img("info", "--output=json", "-f", "vpc", str(path)))
    assert info["virtual-size"] == -(-size // (2 * MiB)) * 2 * MiB
    # the first block holds the disk's generated data: same bytes as the DiskStore
    first = await _qemu_img(
        "dd",
        "-f",
        "vpc",
        "-O",
        "raw",
        "bs=1048576",
        "count=1",
        f"if={path}",
        f"of={tmp_path / 'first.raw'}",
    )
    del first
    assert (tmp_path / "first.raw").read_bytes() == sim_pool.pool.disks.read(vdi, 0, MiB)


async def test_disk_on_another_hosts_local_sr_is_redirected_there(xenapi, sim_pool, http_request):
    session = xenapi.session._session
    records = await xenapi.call("VDI.get_all_records")
    srs = await xenapi.call("SR.get_all_records")
    pbds = await xenapi.call("PBD.get_all_records")
    master = sim_pool.pool.master_ref
    vdi, owner = next(
        (ref, pbds[srs[r["SR"]]["PBDs"][0]]["host"])
        for ref, r in records.items()
        if not srs[r["SR"]]["shared"] and pbds[srs[r["SR"]]["PBDs"][0]]["host"] != master
    )
    url = _url(sim_pool, "/export_raw_vdi/", session_id=session, vdi=vdi, format="vhd")
    reply = await http_request("GET", url)
    assert reply.status == 302
    owner_url = sim_pool.host_urls[sim_pool.pool.host_refs.index(owner)]
    assert reply.headers["location"] == owner_url + url.split(sim_pool.master_url, 1)[1]
    followed = await http_request("GET", reply.headers["location"])
    assert followed.status == 200 and followed.body[:8] == b"conectix"


async def test_delta_vhd_against_a_base_holds_only_changed_blocks(
    xenapi, sim_pool, http_request, tmp_path: Path
):
    session = xenapi.session._session
    data = _content(8 * MiB, seed=3)
    base = await _import_new_vdi(http_request, sim_pool, session, data)
    child = await _import_new_vdi(http_request, sim_pool, session, data)
    # overwrite the start of the child: only its first 2 MiB block differs from the base
    reply = await http_request(
        "PUT",
        _url(sim_pool, "/import_raw_vdi/", session_id=session, vdi=child),
        body=b"\x42" * 4096,
    )
    assert sim_pool.pool.db.get("task", reply.headers["task-id"])["status"] == "success"
    delta = await http_request(
        "GET",
        _url(sim_pool, "/export_raw_vdi/", session_id=session, vdi=child, base=base, format="vhd"),
    )
    path = tmp_path / "delta.vhd"
    path.write_bytes(delta.body)
    await _qemu_check_vhd(path)
    extents = json.loads(await _qemu_img("map", "--output=json", "-f", "vpc", str(path)))
    allocated = [e for e in extents if e["data"]]
    assert [(e["start"], e["length"]) for e in allocated] == [(0, 2 * MiB)]
    assert delta.body[512 + 24 : 512 + 40] != bytes(16)  # dynamic header carries the parent uuid


async def test_unknown_format_is_404_and_fails_the_task(xenapi, sim_pool, http_request):
    session = xenapi.session._session
    vdi = await _import_new_vdi(http_request, sim_pool, session, b"x" * MiB)
    task = await xenapi.call("task.create", "export", "qcow2 please")
    reply = await http_request(
        "GET",
        _url(
            sim_pool, "/export_raw_vdi/", session_id=session, vdi=vdi, format="qcow9", task_id=task
        ),
    )
    assert reply.status == 404
    record = await xenapi.call("task.get_record", task)
    assert record["status"] == "failure"
    assert record["error_info"][0] == "INTERNAL_ERROR"


async def test_chunked_upload_is_refused(xenapi, sim_pool, http_request):
    session = xenapi.session._session
    vdi = await _import_new_vdi(http_request, sim_pool, session, b"y" * MiB)
    reply = await http_request(
        "PUT",
        _url(sim_pool, "/import_raw_vdi/", session_id=session, vdi=vdi),
        body=iter([b"a" * 10, b"b" * 10]),
    )
    assert reply.status == 403
    task = sim_pool.pool.db.get("task", reply.headers["task-id"])
    assert task["error_info"] == ["IMPORT_ERROR_CANNOT_HANDLE_CHUNKED"]


async def test_task_id_is_adopted_and_reported(xenapi, sim_pool, http_request):
    session = xenapi.session._session
    vdi = await _import_new_vdi(http_request, sim_pool, session, b"z" * MiB)
    task = await xenapi.call("task.create", "my export", "")
    reply = await http_request(
        "GET", _url(sim_pool, "/export_raw_vdi/", session_id=session, vdi=vdi, task_id=task)
    )
    assert reply.headers["task-id"] == task
    record = await xenapi.call("task.get_record", task)
    assert record["status"] == "success" and float(record["progress"]) == 1.0


async def test_authentication_by_cookie_basic_or_nothing(xenapi, sim_pool, http_request):
    session = xenapi.session._session
    vdi = await _import_new_vdi(http_request, sim_pool, session, b"w" * MiB)
    url = _url(sim_pool, "/export_raw_vdi/", vdi=vdi)
    by_cookie = await http_request("GET", url, headers={"Cookie": f"session_id={session}"})
    assert by_cookie.status == 200 and by_cookie.body == b"w" * MiB
    token = base64.b64encode(f"{sim_pool.username}:{sim_pool.password}".encode()).decode()
    by_basic = await http_request("GET", url, headers={"Authorization": f"Basic {token}"})
    assert by_basic.status == 200 and by_basic.body == b"w" * MiB
    task = await xenapi.call("task.create", "unauthenticated", "")
    anonymous = await http_request("GET", url + f"&task_id={task}")
    assert anonymous.status == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    record = await xenapi.call("task.get_record", task)
    assert (
        record["status"] == "failure" and record["error_info"][0] == "SESSION_AUTHENTICATION_FAILED"
    )
    wrong = base64.b64encode(b"root:wrong").decode()
    assert (
        await http_request("GET", url, headers={"Authorization": f"Basic {wrong}"})
    ).status == 401


async def test_unknown_vdi_is_404(xenapi, sim_pool, http_request):
    session = xenapi.session._session
    reply = await http_request(
        "GET", _url(sim_pool, "/export_raw_vdi/", session_id=session, vdi="OpaqueRef:nope")
    )
    assert reply.status == 404
    try:
        await xenapi.call("VDI.get_record", "OpaqueRef:nope")
    except XenAPI.Failure as exc:
        assert exc.details[0] == "HANDLE_INVALID"


async def test_raw_upload_of_unknown_length_keeps_data_and_reports_io_error(
    xenapi, sim_pool, http_request
):
    """XO announces 1 PiB when it does not know the size, sends, then closes its side."""
    session = xenapi.session._session
    vdi = await _import_new_vdi(http_request, sim_pool, session, bytes(3 * MiB))
    data = _content(3 * MiB, seed=11)
    task = await put_announcing_1_pib(
        sim_pool.master_url, f"/import_raw_vdi/?session_id={session}&vdi={vdi}", data
    )
    record = await xenapi.call("task.get_record", task)
    assert record["status"] == "failure" and record["error_info"][0] == "VDI_IO_ERROR"
    back = await http_request(
        "GET", _url(sim_pool, "/export_raw_vdi/", session_id=session, vdi=vdi)
    )
    assert back.body == data  # what arrived was written
