"""`PUT /import`: create a VM from an XVA stream (reference xapi.md §5 and §6).

Like xapi: authenticate, refuse chunked transfer encoding (403, task failed with
IMPORT_ERROR_CANNOT_HANDLE_CHUNKED), answer `HTTP/1.1 200 OK` + `task-id` **before** reading the
body, then parse the (sniffed gzip/zstd) tar incrementally: ova.xml creates the VM, VDIs, VBDs
and VIFs, each verified chunk is written to its VDI, the tar end completes the task with
`<value><array><data><value>OpaqueRef:vm</value></data></array></value>`.

A corrupt stream (bad tar, bad checksum, truncated, bad ova.xml) fails the task and destroys
everything created so far: nothing half-imported stays behind.
"""

from __future__ import annotations

import logging
from typing import Any

from xo.formats import xmlrpc
from xo.formats.compression import CompressionError, SniffingDecompressor
from xo.formats.xva import DiskChunk, End, OvaXml, XvaError, XvaReader
from xo.sim.errors import XapiFailure
from xo.sim.net.body import BodyTruncated, drain, is_chunked, iter_body
from xo.sim.net.http import Request
from xo.sim.net.redirect import redirect, redirect_target, sr_host
from xo.sim.net.transfer import Transfer, lookup_param, resolve_sr

log = logging.getLogger(__name__)


async def handle_import(pool: Any, host_ref: str, request: Request) -> None:
    async with Transfer(pool, host_ref, request, "VM.import") as transfer:
        if is_chunked(request):
            await request.send_error(
                403, "chunked transfer encoding is not supported", transfer.headers
            )
            raise XapiFailure("IMPORT_ERROR_CANNOT_HANDLE_CHUNKED")
        sr_ref = resolve_sr(pool, request)
        target = redirect_target(pool, host_ref, sr_host(pool, sr_ref))
        if target is not None:
            transfer.abandon()
            await redirect(request, target)
            return
        force = (lookup_param(request, "force") or "").lower() == "true"
        restore = (lookup_param(request, "restore") or "").lower() == "true"
        await request.send_raw_head(
            "HTTP/1.1 200 OK",
            [
                ("Connection", "close"),
                *transfer.headers,
                ("Content-Type", "application/octet-stream"),
            ],
        )
        importer = XvaImport(pool, transfer, sr_ref, verify=not force, restore=restore)
        try:
            vm_refs = await importer.run(request)
        except BaseException:
            importer.roll_back()
            raise
        transfer.succeed(xmlrpc.encode_value(vm_refs))
        await drain(request)


class XvaImport:
    """The state of one import: what was created so far, where each disk goes."""

    def __init__(
        self, pool: Any, transfer: Transfer, sr_ref: str, *, verify: bool, restore: bool
    ) -> None:
        self._pool = pool
        self._transfer = transfer
        self._sr_ref = sr_ref
        self._verify = verify
        self._restore = restore
        self._created: list[str] = []
        self._vm_refs: list[str] = []
        self._vdis: dict[str, str] = {}
        self._total = 1
        self._written = 0

    async def run(self, request: Request) -> list[str]:
        """Consume the body until the XVA's end; returns the new (non-snapshot) VM refs."""
        decompressor = SniffingDecompressor()
        reader = XvaReader(verify=self._verify)
        try:
            async for data in iter_body(request):
                for piece in decompressor.feed(data):
                    if self._on_events(reader.feed(piece)):
                        return self._vm_refs
                self._transfer.check_cancelled()
            for piece in decompressor.close():
                if self._on_events(reader.feed(piece)):
                    return self._vm_refs
            reader.close()  # raises: the tar ended without its end-of-archive blocks
        except (XvaError, CompressionError) as exc:
            raise XapiFailure("IMPORT_ERROR", str(exc)) from exc
        except BodyTruncated as exc:
            raise XapiFailure("IMPORT_ERROR", f"XVA stream truncated: {exc}") from exc
        raise XapiFailure("IMPORT_ERROR", "XVA stream truncated")

    def _on_events(self, events: list) -> bool:
        for event in events:
            if isinstance(event, OvaXml):
                self._create(event.xml)
            elif isinstance(event, DiskChunk):
                self._write(event)
            elif isinstance(event, End):
                return True
        return False

    def _create(self, xml: bytes) -> None:
        try:
            ova = xmlrpc.parse_value_fragment(xml.decode())
        except (ValueError, UnicodeDecodeError) as exc:
            raise XapiFailure("IMPORT_ERROR", f"cannot parse ova.xml: {exc}") from exc
        if not isinstance(ova, dict) or not isinstance(ova.get("objects"), list):
            raise XapiFailure("IMPORT_ERROR", "ova.xml has no objects")
        self._check_version(ova.get("version", {}))
        vm_refs, vdis, created = self._pool.import_ova(
            ova["objects"], self._sr_ref, self._transfer.task_ref, restore=self._restore
        )
        self._created = created
        self._vm_refs = vm_refs
        self._vdis = vdis
        self._total = sum(self._pool.disks.size(ref) for ref in vdis.values()) or 1

    def _check_version(self, version: Any) -> None:
        if not isinstance(version, dict):
            return
        try:
            theirs = (int(version.get("xapi_major", 0)), int(version.get("xapi_minor", 0)))
        except (TypeError, ValueError):
            return
        ours = self._pool.xapi_version
        if theirs > ours:
            raise XapiFailure(
                "IMPORT_INCOMPATIBLE_VERSION", f"{theirs[0]}.{theirs[1]}", f"{ours[0]}.{ours[1]}"
            )

    def _write(self, chunk: DiskChunk) -> None:
        vdi_ref = self._vdis.get(chunk.ova_id)
        if vdi_ref is None:
            raise XapiFailure("IMPORT_ERROR", f"disk {chunk.ova_id} is not described in ova.xml")
        self._pool.disks.write(vdi_ref, chunk.offset, chunk.data)
        self._written += len(chunk.data)
        self._transfer.progress(min(self._written / self._total, 0.99))

    def roll_back(self) -> None:
        if self._created:
            self._pool.destroy_created(self._created)
            self._created = []
