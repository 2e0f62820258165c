"""`GET /export_raw_vdi` and `PUT /import_raw_vdi` (reference xapi.md §5 and §7).

Export: `vdi` (ref or uuid), `format=raw` (default) or `vhd` (a dynamic VHD; with `base=` a
differencing VHD holding only the blocks that differ from the base VDI). Other formats -> 404
and the task failed. Answer `HTTP/1.1 200 OK`, `Connection: close`, `task-id`, the content type
and a `<vdi uuid>.<format>` filename, then the stream until close.

Import: `vdi` (ref or uuid) or `sr_id` (+ Content-Length: a new "Imported VDI" of that size,
raw only), `format=raw|vhd`. Chunked transfer encoding is refused. 200 + `task-id` first, then
the body is written as it arrives; the task result is `<value>OpaqueRef:vdi</value>`. Raw data
that ends before Content-Length fails the task with VDI_IO_ERROR (what xapi reports when XO
streams with an unknown length and closes), keeping what was written; a VHD is complete when
its trailing footer arrived, whatever the Content-Length said.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from xo.formats import xmlrpc
from xo.formats.vhd import VhdError, VhdReader, iter_dynamic_vhd
from xo.formats.vhd_structs import BLOCK_SIZE as VHD_BLOCK
from xo.formats.vhd_structs import MAX_SIZE as VHD_MAX_SIZE
from xo.sim.errors import XapiFailure
from xo.sim.net.body import BodyTruncated, drain, is_chunked, iter_body
from xo.sim.net.http import HttpError, Request
from xo.sim.net.redirect import redirect, redirect_target, sr_host
from xo.sim.net.streaming import send_stream
from xo.sim.net.throttle import Throttle
from xo.sim.net.transfer import Transfer, lookup_param, resolve_ref, resolve_sr

CONTENT_TYPES = {"raw": "application/octet-stream", "vhd": "application/vhd"}
# Raw exports are read in 1 MiB pieces: the DiskStore block size.
RAW_PIECE = 1 << 20


async def handle_export_raw_vdi(pool: Any, host_ref: str, request: Request) -> None:
    async with Transfer(pool, host_ref, request, "VDI.export_raw_vdi") as transfer:
        vdi_ref = resolve_ref(pool, "VDI", request, "vdi", "vdi_uuid")
        target = redirect_target(pool, host_ref, sr_host(pool, pool.db.get("VDI", vdi_ref)["SR"]))
        if target is not None:
            transfer.abandon()
            await redirect(request, target)
            return
        fmt = (lookup_param(request, "format") or "raw").lower()
        if fmt not in CONTENT_TYPES:
            await request.send_error(404, f"unknown format {fmt}", transfer.headers)
            raise XapiFailure("INTERNAL_ERROR", f"Unknown format {fmt}")
        base_ref = None
        if lookup_param(request, "base"):
            base_ref = resolve_ref(pool, "VDI", request, "base", "base")
        vdi = pool.db.get("VDI", vdi_ref)
        store = pool.disks
        size = store.size(vdi_ref)
        if fmt == "vhd":
            if size > VHD_MAX_SIZE:
                raise XapiFailure("VDI_TOO_LARGE", vdi_ref, str(VHD_MAX_SIZE))
            pieces = _vhd_pieces(pool, vdi_ref, base_ref)
        else:
            pieces = _raw_pieces(store, vdi_ref, size)
        await request.send_raw_head(
            "HTTP/1.1 200 OK",
            [
                ("Connection", "close"),
                *transfer.headers,
                ("Content-Type", CONTENT_TYPES[fmt]),
                ("Content-Disposition", f'attachment; filename="{vdi["uuid"]}.{fmt}"'),
            ],
        )
        sent = 0

        def on_sent(nbytes: int) -> None:
            nonlocal sent
            sent += nbytes
            transfer.progress(min(sent / max(size, 1), 0.99))

        await send_stream(
            request,
            pieces,
            throttle=Throttle(pool.faults),
            on_sent=on_sent,
            check=transfer.check_cancelled,
        )
        transfer.succeed("")


def _raw_pieces(store: Any, vdi_ref: str, size: int) -> Iterator[bytes | memoryview]:
    for offset in range(0, size, RAW_PIECE):
        yield store.read_view(vdi_ref, offset, min(RAW_PIECE, size - offset))


def _vhd_pieces(pool: Any, vdi_ref: str, base_ref: str | None) -> Iterator[bytes | memoryview]:
    store = pool.disks
    size = store.size(vdi_ref)

    def read(offset: int, length: int) -> bytes:
        return store.read(vdi_ref, offset, length)

    blocks = sorted(set(store.allocated_blocks(vdi_ref, VHD_BLOCK)))
    if base_ref is None:
        return iter_dynamic_vhd(size, blocks, read)
    base_size = store.size(base_ref)
    changed = [
        index
        for index in blocks
        if index * VHD_BLOCK >= base_size
        or read(index * VHD_BLOCK, min(VHD_BLOCK, size - index * VHD_BLOCK))
        != store.read(base_ref, index * VHD_BLOCK, min(VHD_BLOCK, size - index * VHD_BLOCK))
    ]
    base = pool.db.get("VDI", base_ref)
    return iter_dynamic_vhd(
        size, changed, read, parent_uuid=base["uuid"], parent_name=f"{base['uuid']}.vhd"
    )


async def handle_import_raw_vdi(pool: Any, host_ref: str, request: Request) -> None:
    async with Transfer(pool, host_ref, request, "VDI.import_raw_vdi") as transfer:
        if is_chunked(request):
            await request.send_error(
                403, "chunked transfer encoding is not supported", transfer.headers
            )
            raise XapiFailure("IMPORT_ERROR_CANNOT_HANDLE_CHUNKED")
        fmt = (lookup_param(request, "format") or "raw").lower()
        if fmt not in CONTENT_TYPES:
            await request.send_error(404, f"unknown format {fmt}", transfer.headers)
            raise XapiFailure("INTERNAL_ERROR", f"Unknown format {fmt}")
        created = None
        if lookup_param(request, "vdi") or lookup_param(request, "vdi_uuid"):
            vdi_ref = resolve_ref(pool, "VDI", request, "vdi", "vdi_uuid")
        else:
            length = request.content_length
            if fmt != "raw" or length is None:
                raise HttpError(400, "creating a VDI needs format=raw and a Content-Length")
            vdi_ref = created = pool.create_vdi(
                resolve_sr(pool, request), length, name_label="Imported VDI"
            )
        await request.send_raw_head(
            "HTTP/1.1 200 OK",
            [("Connection", "close"), *transfer.headers, ("Content-Type", "text/plain")],
        )
        try:
            if fmt == "vhd":
                await _write_vhd(pool, vdi_ref, request, transfer)
            else:
                await _write_raw(pool, vdi_ref, request, transfer)
        except BaseException:
            if created is not None:
                pool.destroy_vdi(created)
            raise
        transfer.succeed(xmlrpc.encode_value(vdi_ref))
        await drain(request)


async def _write_raw(pool: Any, vdi_ref: str, request: Request, transfer: Transfer) -> None:
    store = pool.disks
    size = store.size(vdi_ref)
    offset = 0
    try:
        async for data in iter_body(request):
            if offset + len(data) > size:
                raise XapiFailure("VDI_IO_ERROR", "Device I/O errors")
            store.write(vdi_ref, offset, data)
            offset += len(data)
            transfer.progress(offset / max(size, 1))
            transfer.check_cancelled()
    except BodyTruncated as exc:
        raise XapiFailure("VDI_IO_ERROR", "Device I/O errors") from exc


async def _write_vhd(pool: Any, vdi_ref: str, request: Request, transfer: Transfer) -> None:
    store = pool.disks
    size = store.size(vdi_ref)
    reader = VhdReader()
    written = 0
    try:
        try:
            async for data in iter_body(request):
                for write in reader.feed(data):
                    inside = max(0, min(len(write.data), size - write.offset))
                    if any(write.data[inside:]):
                        # only the zero padding of a VHD rounded up to 2 MiB may lie outside
                        raise XapiFailure("VDI_IO_ERROR", "Device I/O errors")
                    if inside:
                        store.write(vdi_ref, write.offset, write.data[:inside])
                    written += inside
                    transfer.progress(written / max(size, 1))
                transfer.check_cancelled()
        except BodyTruncated:
            pass  # XO's unknown-length uploads end by closing: the footer check below decides
        reader.close()
    except VhdError as exc:
        raise XapiFailure("VDI_IO_ERROR", f"invalid VHD stream: {exc}") from exc
