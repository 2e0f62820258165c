"""GET /export and PUT /import: XVA streams checked with independent tools written from the
format's description (Python's tarfile, xmlrpc.client, the xxhash package), round trips, corrupt
imports rolled back, XO's upload quirks, faults on exports."""

from __future__ import annotations

import gzip
import io
import tarfile
import tracemalloc
import xmlrpc.client
from urllib.parse import urlencode, urlsplit

import pytest
import trio
import xxhash
import zstandard
from early_close import put_announcing_1_pib

from xo.formats import xmlrpc as xo_xmlrpc

MiB = 1 << 20
GiB = 1 << 30
DEVICE_CLASSES = ("VM", "VBD", "VDI", "VIF")


def _parse_ova(xml: bytes) -> dict:
    wrapped = b"<methodResponse><params><param>" + xml + b"</param></params></methodResponse>"
    (value,), _ = xmlrpc.client.loads(wrapped)
    return value


def _decompress(body: bytes) -> bytes:
    if body[:2] == b"\x1f\x8b":
        return gzip.decompress(body)
    if body[:4] == b"\x28\xb5\x2f\xfd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    return body


def check_xva(body: bytes) -> tuple[dict, dict[str, dict[int, bytes]]]:
    """Validate an XVA from the format's description; returns (ova, {disk id: {index: chunk}})."""
    archive = tarfile.open(fileobj=io.BytesIO(_decompress(body)), mode="r:")
    members = archive.getmembers()
    assert members[0].name == "ova.xml"
    ova = _parse_ova(archive.extractfile(members[0]).read())
    assert ova["version"]["export_vsn"] == "2"
    sizes = {
        obj["id"]: int(obj["snapshot"]["virtual_size"])
        for obj in ova["objects"]
        if obj["class"] == "VDI"
    }
    disks: dict[str, dict[int, bytes]] = {}
    order: list[str] = []
    pending: tuple[str, int, bytes] | None = None
    for member in members[1:]:
        data = archive.extractfile(member).read()
        disk, _, leaf = member.name.partition("/")
        if leaf.endswith(".xxhash"):
            assert pending is not None and (pending[0], pending[1]) == (disk, int(leaf[:8]))
            assert data == xxhash.xxh64(pending[2]).hexdigest().upper().encode()
            pending = None
            continue
        assert pending is None, "a chunk without its checksum"
        assert len(leaf) == 8 and leaf.isdigit()
        index = int(leaf)
        if not order or order[-1] != disk:
            assert disk not in order, "disks must not interleave"
            order.append(disk)
        chunks = disks.setdefault(disk, {})
        assert not chunks or index > max(chunks), "counters must increase"
        chunks[index] = data
        pending = (disk, index, data)
    assert pending is None
    assert order == sorted(order)  # lexicographic order of ova ids, as xapi writes them
    for disk, chunks in disks.items():
        last = (sizes[disk] - 1) // MiB
        assert 0 in chunks and last in chunks, "first and last chunks are always present"
        assert len(chunks[last]) == sizes[disk] - last * MiB
    return ova, disks


def disks_by_device(ova: dict, disks: dict[str, dict[int, bytes]]) -> dict[str, dict[int, bytes]]:
    """Chunks keyed by the VBD userdevice of their disk, zero chunks dropped (sparse view)."""
    by_device = {}
    for obj in ova["objects"]:
        if obj["class"] == "VBD" and obj["snapshot"]["VDI"] in disks:
            chunks = disks[obj["snapshot"]["VDI"]]
            by_device[obj["snapshot"]["userdevice"]] = {
                i: c for i, c in chunks.items() if c.strip(b"\0")
            }
    return by_device


def _url(pool, path: str, **params: str) -> str:
    return f"{pool.master_url}{path}?{urlencode(params)}"


async def _halted_vm_on_shared_storage(xenapi) -> str:
    vms = await xenapi.call("VM.get_all_records")
    vbds = await xenapi.call("VBD.get_all_records")
    vdis = await xenapi.call("VDI.get_all_records")
    srs = await xenapi.call("SR.get_all_records")
    for ref, vm in sorted(vms.items(), key=lambda item: item[1]["name_label"]):
        if vm["power_state"] != "Halted" or vm["is_a_template"] or vm["is_control_domain"]:
            continue
        disks = [vbds[v]["VDI"] for v in vm["VBDs"] if vbds[v]["type"] == "Disk"]
        if disks and all(srs[vdis[d]["SR"]]["shared"] for d in disks):
            return ref
    raise AssertionError("no halted VM with disks on shared storage in the scenario")


def _counts(pool) -> dict[str, int]:
    return {cls: len(pool.pool.db.all(cls)) for cls in DEVICE_CLASSES}


def _default_sr(pool) -> str:
    return pool.pool.db.get("pool", pool.pool.pool_ref)["default_SR"]


async def _export(http_request, pool, session: str, vm: str, **params: str):
    reply = await http_request("GET", _url(pool, "/export", session_id=session, ref=vm, **params))
    assert reply.status == 200, reply.body[:200]
    return reply


async def _import(http_request, pool, session: str, body: bytes, **params: str):
    params = {"session_id": session, "sr_id": _default_sr(pool), **params}
    reply = await http_request("PUT", _url(pool, "/import/", **params), body=body)
    task = pool.pool.db.get("task", reply.headers["task-id"])
    return reply, task


async def test_exported_xva_passes_the_format_checks(xenapi, sim_pool, http_request):
    session = xenapi.session._session
    vm = await _halted_vm_on_shared_storage(xenapi)
    task = await xenapi.call("task.create", "export", "")
    reply = await _export(http_request, sim_pool, session, vm, task_id=task)
    assert reply.version == 10  # xapi answers exports as HTTP/1.0, delimited by closing
    assert "content-length" not in reply.headers
    assert reply.headers["connection"] == "close"
    assert reply.headers["task-id"] == task
    assert reply.headers["content-type"] == "application/octet-stream"
    ova, disks = check_xva(reply.body)
    classes = {obj["class"] for obj in ova["objects"]}
    assert {"VM", "VBD", "VDI"} <= classes
    (vm_obj,) = [obj for obj in ova["objects"] if obj["class"] == "VM"]
    assert vm_obj["snapshot"]["uuid"] == (await xenapi.call("VM.get_uuid", vm))
    assert disks, "the VM's disks are in the archive"
    record = await xenapi.call("task.get_record", task)
    assert record["status"] == "success" and record["result"] == ""
    assert (await xenapi.call("VM.get_current_operations", vm)) == {}


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
async def test_export_import_export_is_byte_identical_for_disks(
    xenapi, sim_pool, http_request, compression
):
    session = xenapi.session._session
    vm = await _halted_vm_on_shared_storage(xenapi)
    params = (
        {}
        if compression == "none"
        else {"use_compression": "true" if compression == "gzip" else "zstd"}
    )
    first = await _export(http_request, sim_pool, session, vm, **params)
    if compression == "gzip":
        assert first.body[:2] == b"\x1f\x8b"
    elif compression == "zstd":
        assert first.body[:4] == b"\x28\xb5\x2f\xfd"
    ova, disks = check_xva(first.body)
    reply, task = await _import(http_request, sim_pool, session, first.body)
    assert reply.status == 200
    assert task["status"] == "success", task["error_info"]
    (new_vm,) = xo_xmlrpc.parse_value_fragment(task["result"])
    assert task["result"] == f"<value><array><data><value>{new_vm}</value></data></array></value>"
    assert new_vm != vm
    record = await xenapi.call("VM.get_record", new_vm)
    assert record["power_state"] == "Halted" and record["current_operations"] == {}
    second = await _export(http_request, sim_pool, session, new_vm)
    ova2, disks2 = check_xva(second.body)
    original = disks_by_device(ova, disks)
    assert any(original.values()), "the disks carry data to compare"
    assert disks_by_device(ova2, disks2) == original


async def test_export_of_a_running_vm_fails_its_task(xenapi, sim_pool, http_request):
    session = xenapi.session._session
    vms = await xenapi.call("VM.get_all_records")
    running = next(
        r for r, v in vms.items() if v["power_state"] == "Running" and not v["is_control_domain"]
    )
    task = await xenapi.call("task.create", "export", "")
    reply = await http_request(
        "GET", _url(sim_pool, "/export", session_id=session, ref=running, task_id=task)
    )
    assert reply.status == 500
    record = await xenapi.call("task.get_record", task)
    assert record["status"] == "failure"
    assert record["error_info"] == ["VM_BAD_POWER_STATE", running, "halted, suspended", "running"]


async def _good_xva(xenapi, sim_pool, http_request) -> bytes:
    vm = await _halted_vm_on_shared_storage(xenapi)
    return (await _export(http_request, sim_pool, xenapi.session._session, vm)).body


def _corrupt_checksum(xva: bytes) -> bytes:
    # flip a byte inside the first disk chunk's data: its .xxhash no longer matches
    archive = tarfile.open(fileobj=io.BytesIO(xva), mode="r:")
    chunk = archive.getmembers()[1]
    data = bytearray(xva)
    data[chunk.offset_data + 10] ^= 0xFF
    return bytes(data)


def _corrupt_tar(xva: bytes) -> bytes:
    archive = tarfile.open(fileobj=io.BytesIO(xva), mode="r:")
    chunk = archive.getmembers()[1]
    data = bytearray(xva)
    data[chunk.offset : chunk.offset + 512] = b"\x07" * 512  # a tar header with a bad checksum
    return bytes(data)


@pytest.mark.parametrize("damage", ["bad_checksum", "bad_tar", "truncated", "not_an_xva"])
async def test_corrupt_imports_fail_and_leave_nothing_behind(
    xenapi, sim_pool, http_request, damage
):
    session = xenapi.session._session
    xva = await _good_xva(xenapi, sim_pool, http_request)
    body = {
        "bad_checksum": lambda: _corrupt_checksum(xva),
        "bad_tar": lambda: _corrupt_tar(xva),
        "truncated": lambda: xva[: len(xva) * 2 // 3],
        "not_an_xva": lambda: b"hello, this is not a tar archive" * 100,
    }[damage]()
    before = _counts(sim_pool)
    reply, task = await _import(http_request, sim_pool, session, body)
    assert reply.status == 200  # answered before the body was read
    assert task["status"] == "failure"
    assert task["error_info"][0] == "IMPORT_ERROR"
    assert _counts(sim_pool) == before


async def test_forced_import_ignores_a_bad_checksum(xenapi, sim_pool, http_request):
    xva = await _good_xva(xenapi, sim_pool, http_request)
    reply, task = await _import(
        http_request, sim_pool, xenapi.session._session, _corrupt_checksum(xva), force="true"
    )
    assert task["status"] == "success", task["error_info"]


async def test_chunked_import_is_refused(xenapi, sim_pool, http_request):
    xva = await _good_xva(xenapi, sim_pool, http_request)
    before = _counts(sim_pool)
    pieces = [xva[i : i + MiB] for i in range(0, len(xva), MiB)]
    params = urlencode({"session_id": xenapi.session._session, "sr_id": _default_sr(sim_pool)})
    reply = await http_request("PUT", f"{sim_pool.master_url}/import/?{params}", body=iter(pieces))
    assert reply.status == 403
    task = sim_pool.pool.db.get("task", reply.headers["task-id"])
    assert task["error_info"] == ["IMPORT_ERROR_CANNOT_HANDLE_CHUNKED"]
    assert _counts(sim_pool) == before


async def test_empty_probe_put_is_harmless(xenapi, sim_pool, http_request):
    before = _counts(sim_pool)
    reply, task = await _import(http_request, sim_pool, xenapi.session._session, b"")
    assert reply.status == 200 and reply.headers["task-id"]
    assert task["status"] == "failure"
    assert _counts(sim_pool) == before
    xva = await _good_xva(xenapi, sim_pool, http_request)
    reply, task = await _import(http_request, sim_pool, xenapi.session._session, xva)
    assert task["status"] == "success"


async def test_import_with_1_pib_content_length_and_early_close(xenapi, sim_pool, http_request):
    """What XO does when it does not know the size: announce 1 PiB, send, close."""
    xva = await _good_xva(xenapi, sim_pool, http_request)
    params = urlencode({"session_id": xenapi.session._session, "sr_id": _default_sr(sim_pool)})
    task_id = await put_announcing_1_pib(sim_pool.master_url, f"/import/?{params}", xva)
    record = await xenapi.call("task.get_record", task_id)
    assert record["status"] == "success", record["error_info"]


async def test_import_adopts_the_task_and_holds_import_on_the_new_vm(
    xenapi, sim_pool, http_request
):
    xva = await _good_xva(xenapi, sim_pool, http_request)
    task = await xenapi.call("task.create", "import", "")
    reply, record = await _import(
        http_request, sim_pool, xenapi.session._session, xva, task_id=task
    )
    assert reply.headers["task-id"] == task
    assert record["status"] == "success"
    (new_vm,) = xo_xmlrpc.parse_value_fragment(record["result"])
    assert (await xenapi.call("VM.get_current_operations", new_vm)) == {}


async def test_corrupt_next_export_fault_breaks_exactly_one_export(
    sim, xenapi, sim_pool, http_request
):
    session = xenapi.session._session
    vm = await _halted_vm_on_shared_storage(xenapi)
    sim.corrupt_next_export()
    broken = await _export(http_request, sim_pool, session, vm)
    reply, task = await _import(http_request, sim_pool, session, broken.body)
    assert task["status"] == "failure" and "checksum" in " ".join(task["error_info"]).lower()
    healthy = await _export(http_request, sim_pool, session, vm)
    check_xva(healthy.body)


async def test_truncate_next_export_fault_cuts_the_stream(sim, xenapi, sim_pool, http_request):
    session = xenapi.session._session
    vm = await _halted_vm_on_shared_storage(xenapi)
    sim.truncate_next_export(3 * MiB + 77)
    cut = await _export(http_request, sim_pool, session, vm)
    assert len(cut.body) == 3 * MiB + 77
    reply, task = await _import(http_request, sim_pool, session, cut.body)
    assert task["status"] == "failure"
    whole = await _export(http_request, sim_pool, session, vm)
    assert len(whole.body) > len(cut.body)


async def test_bandwidth_fault_slows_exports_and_the_vm_shows_the_export(sim, xenapi, sim_pool):
    session = xenapi.session._session
    vm = await _halted_vm_on_shared_storage(xenapi)
    ip, port = urlsplit(sim_pool.master_url).hostname, urlsplit(sim_pool.master_url).port
    sim.set_bandwidth(16 * MiB)
    received = 0
    seen_operation = False
    start = trio.current_time()
    with trio.fail_after(60):
        async with await trio.open_tcp_stream(ip, port) as stream:
            await stream.send_all(
                f"GET /export?session_id={session}&ref={vm} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
            )
            while chunk := await stream.receive_some(65536):
                received += len(chunk)
                if not seen_operation and received > MiB:
                    operations = sim_pool.pool.db.get("VM", vm)["current_operations"]
                    seen_operation = list(operations.values()) == ["export"]
    elapsed = trio.current_time() - start
    sim.set_bandwidth(None)
    assert seen_operation
    # paced: everything beyond what socket buffers absorb (a few MiB) took its time
    assert elapsed >= 0.9 * (received - 4 * MiB) / (16 * MiB)
    assert sim_pool.pool.db.get("VM", vm)["current_operations"] == {}


async def test_a_100_gib_vm_exports_in_flat_memory(xenapi, sim_pool):
    session = xenapi.session._session
    vm = await _halted_vm_on_shared_storage(xenapi)
    vbds = await xenapi.call("VM.get_VBDs", vm)
    disk = next(
        vdi
        for vdi in [await xenapi.call("VBD.get_VDI", v) for v in vbds]
        if vdi != "OpaqueRef:NULL"
    )
    await xenapi.call("VDI.resize", disk, str(100 * GiB))
    ip, port = urlsplit(sim_pool.master_url).hostname, urlsplit(sim_pool.master_url).port
    received = 0
    tracemalloc.start()
    try:
        with trio.fail_after(60):
            async with await trio.open_tcp_stream(ip, port) as stream:
                await stream.send_all(
                    f"GET /export?session_id={session}&ref={vm} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
                )
                while chunk := await stream.receive_some(1 << 20):
                    received += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received > 3 * MiB  # real data chunks plus the last chunk of a 100 GiB disk
    assert peak < 64 * MiB


async def test_cancelling_the_task_stops_an_export(sim, xenapi, sim_pool):
    session = xenapi.session._session
    vm = await _halted_vm_on_shared_storage(xenapi)
    task = await xenapi.call("task.create", "export to cancel", "")
    sim.set_bandwidth(2 * MiB)
    ip, port = urlsplit(sim_pool.master_url).hostname, urlsplit(sim_pool.master_url).port
    with trio.fail_after(30):
        async with await trio.open_tcp_stream(ip, port) as stream:
            request = f"GET /export?session_id={session}&ref={vm}&task_id={task} HTTP/1.1\r\nHost: x\r\n\r\n"
            await stream.send_all(request.encode())
            await stream.receive_some(65536)
            await xenapi.call("task.cancel", task)
            try:
                while await stream.receive_some(65536):
                    pass  # the host stops the stream and closes
            except trio.BrokenResourceError:
                pass
    sim.set_bandwidth(None)
    record = await xenapi.call("task.get_record", task)
    assert record["status"] == "cancelled"
    assert record["error_info"] == ["TASK_CANCELLED", task]
    assert sim_pool.pool.db.get("VM", vm)["current_operations"] == {}
