"""`GET /export`: a VM as an XVA stream (reference xapi.md §5 and §6).

Like xapi: authenticate, resolve `ref`/`uuid`, check the `export` operation (a running VM fails
the task with VM_BAD_POWER_STATE), hold `current_operations[task] = "export"` while streaming,
answer `HTTP/1.0 200 OK` with no Content-Length and `Connection: close`, then the tar (gzip or
zstd when `use_compression` asks). The XVA is generated chunk by chunk from the DiskStore, so
memory stays flat whatever the disk sizes. The task result stays `""`.

Faults: `bandwidth` paces the stream; `corrupt_next_export` flips one byte of the first disk
chunk *after* its checksum was computed (an importer must reject it); `truncate_next_export`
drops the connection after that many bytes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from xo.formats import xmlrpc
from xo.formats.compression import codec_from_query
from xo.formats.xva import CHUNK_SIZE, XvaDisk, iter_xva
from xo.sim.net.http import Request
from xo.sim.net.redirect import redirect, redirect_target, sr_host
from xo.sim.net.streaming import send_stream
from xo.sim.net.throttle import Throttle
from xo.sim.net.transfer import Transfer, lookup_param, resolve_ref
from xo.sim.net.vm_lock import vm_operation

SERVER_HEADER = ("Server", "xapi/24.39")


async def handle_export(pool: Any, host_ref: str, request: Request) -> None:
    async with Transfer(pool, host_ref, request, "VM.export") as transfer:
        vm_ref = resolve_ref(pool, "VM", request, "ref", "uuid")
        target = redirect_target(pool, host_ref, _disk_owner(pool, vm_ref))
        if target is not None:
            transfer.abandon()
            await redirect(request, target)
            return
        preserve = (lookup_param(request, "preserve_power_state") or "").lower() == "true"
        codec = codec_from_query(lookup_param(request, "use_compression"))
        with vm_operation(pool, vm_ref, transfer.task_ref, "export"):
            objects, disks = pool.export_objects(vm_ref, preserve_power_state=preserve)
            ova_xml = ova_xml_bytes(pool, host_ref, objects)
            xva_disks = [_xva_disk(pool, ova_id, vdi_ref) for ova_id, vdi_ref in disks]
            total = sum(disk.size for disk in xva_disks) or 1
            faults = pool.faults
            corrupt, faults.corrupt_next_export = faults.corrupt_next_export, False
            truncate_at, faults.truncate_next_export = faults.truncate_next_export, None
            await request.send_raw_head(
                "HTTP/1.0 200 OK",
                [
                    ("Connection", "close"),
                    *transfer.headers,
                    SERVER_HEADER,
                    ("Content-Type", "application/octet-stream"),
                    ("Content-Disposition", 'attachment; filename="export.xva"'),
                ],
            )
            pieces: Iterable[bytes | memoryview] = iter_xva(ova_xml, xva_disks)
            if corrupt:
                pieces = corrupt_first_chunk(pieces)
            sent = 0

            def on_sent(nbytes: int) -> None:
                nonlocal sent
                sent += nbytes
                transfer.progress(min(sent / total, 0.99))

            await send_stream(
                request,
                pieces,
                codec=codec,
                throttle=Throttle(faults),
                truncate_at=truncate_at,
                on_sent=on_sent,
                check=transfer.check_cancelled,
            )
        transfer.succeed("")


def _disk_owner(pool: Any, vm_ref: str) -> str | None:
    """The host whose local SR holds the VM's disks, when one host alone can read them."""
    owners = set()
    for vbd in pool.db.get("VM", vm_ref)["VBDs"]:
        vdi = pool.db.get("VBD", vbd)["VDI"]
        if pool.db.exists("VDI", vdi):
            owners.add(sr_host(pool, pool.db.get("VDI", vdi)["SR"]))
    owners.discard(None)
    return owners.pop() if len(owners) == 1 else None


def _xva_disk(pool: Any, ova_id: str, vdi_ref: str) -> XvaDisk:
    store = pool.disks
    size = store.size(vdi_ref)

    def read_block(index: int) -> bytes | memoryview:
        offset = index * CHUNK_SIZE
        # A view of the stored or generated block, not a copy: chunks go to the socket as is.
        return store.read_view(vdi_ref, offset, min(CHUNK_SIZE, size - offset))

    return XvaDisk(
        ova_id=ova_id,
        size=size,
        allocated_blocks=store.allocated_blocks(vdi_ref, CHUNK_SIZE),
        read_block=read_block,
    )


def ova_xml_bytes(pool: Any, host_ref: str, objects: list[dict]) -> bytes:
    """ova.xml: one XML-RPC value holding the version block and the exported objects."""
    host = pool.db.get("host", host_ref)
    software = host.get("software_version", {})
    major, minor = _xapi_version(software.get("xapi", ""))
    version = {
        "hostname": host.get("hostname", ""),
        "date": software.get("date", time.strftime("%Y-%m-%d")),
        "product_version": software.get("product_version", ""),
        "product_brand": software.get("product_brand", ""),
        "build_number": software.get("build_number", ""),
        "xapi_major": major,
        "xapi_minor": minor,
        "export_vsn": 2,
    }
    return xmlrpc.encode_value({"version": version, "objects": objects}).encode()


def _xapi_version(text: str) -> tuple[int, int]:
    parts = text.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return 1, 20


def corrupt_first_chunk(pieces: Iterable[bytes | memoryview]) -> Iterator[bytes | memoryview]:
    """Flip the first byte of the first disk chunk's data, after its checksum was computed."""
    armed = False
    done = False
    for piece in pieces:
        if done:
            yield piece
            continue
        if armed and len(piece) > 0:
            data = bytearray(piece)
            data[0] ^= 0xFF
            done = True
            yield bytes(data)
            continue
        # A tar header of a chunk member ("Ref:N/NNNNNNNN", no checksum extension).
        if len(piece) == 512 and bytes(piece[:4]) == b"Ref:":
            name = bytes(piece[:100]).rstrip(b"\0")
            armed = not name.endswith((b".xxhash", b".checksum"))
        yield piece
