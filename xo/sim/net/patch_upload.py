"""`PUT /pool_patch_upload`: the legacy patch upload (reference xapi.md §5 and §8.1).

Like xapi's `Xapi_pool_patch`: the body (Content-Length required, no chunked encoding) is written
into a new VDI on `sr_id` (default SR), then the patch model introduces the update from it; the
task result is the **bare** `OpaqueRef:<pool_patch>` (not XML-wrapped).
"""

from __future__ import annotations

from typing import Any

from xo.sim.errors import XapiFailure
from xo.sim.net.body import BodyTruncated, drain, is_chunked, iter_body
from xo.sim.net.http import HttpError, Request
from xo.sim.net.transfer import Transfer, resolve_sr


async def handle_pool_patch_upload(pool: Any, host_ref: str, request: Request) -> None:
    async with Transfer(pool, host_ref, request, "pool_patch_upload") as transfer:
        if is_chunked(request):
            await request.send_error(
                403, "chunked transfer encoding is not supported", transfer.headers
            )
            raise XapiFailure("IMPORT_ERROR_CANNOT_HANDLE_CHUNKED")
        length = request.content_length
        if length is None:
            raise HttpError(411, "pool_patch_upload needs a Content-Length")
        sr_ref = resolve_sr(pool, request)
        await request.send_raw_head(
            "HTTP/1.1 200 OK",
            [("Connection", "close"), *transfer.headers, ("Content-Type", "text/plain")],
        )
        vdi_ref = pool.create_vdi(sr_ref, length, name_label="Uploaded patch")
        try:
            offset = 0
            try:
                async for data in iter_body(request):
                    if offset + len(data) > length:
                        raise XapiFailure("VDI_IO_ERROR", "Device I/O errors")
                    pool.disks.write(vdi_ref, offset, data)
                    offset += len(data)
                    transfer.progress(offset / max(length, 1))
            except BodyTruncated as exc:
                raise XapiFailure("VDI_IO_ERROR", "Device I/O errors") from exc
            patch_ref = pool.patches.upload(vdi_ref, host_ref)
        except BaseException:
            pool.destroy_vdi(vdi_ref)
            raise
        transfer.succeed(patch_ref)
        await drain(request)
