"""HTTP handlers of a host (export, import, raw VDI, console) as streams.

The session goes in the query (``session_id``), as xen-api does. A ``302 Found`` (xapi sends one
when another host has better access to the storage or runs the VM) is followed to the host in its
``Location``; for uploads an empty probe PUT finds that redirect before the body is sent, because
a streamed body cannot be sent twice (xen-api's approach). A ``401`` gets one new session.
Bodies are never buffered: responses are async iterators of the chunks as they arrive.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

import trio

from .errors import XapiHttpError, XapiProtocolError
from .origin import Origin
from .transport import Request, Response

if TYPE_CHECKING:
    from .client import XapiClient

# Redirect hops followed: xapi redirects at most once (to the host owning the resource).
MAX_REDIRECTS = 3
# Bytes of an error body kept for the error message (the rest is discarded unread).
ERROR_BODY_PREVIEW = 512


def _target(path: str, query: dict[str, str], session: str) -> str:
    return f"{path}?{urlencode({**query, 'session_id': session})}"


def _redirect(origin: Origin, response: Response) -> tuple[Origin, str] | None:
    """(origin, path-and-query) of a 3xx ``Location``, or None if not a redirect."""
    if response.status not in (301, 302, 303, 307, 308):
        return None
    location = response.header("location")
    if not location:
        raise XapiProtocolError(f"{origin.netloc}: HTTP {response.status} without Location")
    parts = urlsplit(location)
    target_origin = origin.with_address(parts.netloc) if parts.netloc else origin
    if parts.scheme in ("http", "https"):
        target_origin = Origin(parts.scheme, target_origin.host, target_origin.port)
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    return target_origin, target


async def _error(response: Response, method: str, target: str) -> XapiHttpError:
    preview = b""
    try:
        async for chunk in response:
            preview += chunk
            if len(preview) >= ERROR_BODY_PREVIEW:
                break
    finally:
        await response.aclose()
    reason = response.reason or preview[:ERROR_BODY_PREVIEW].decode("utf-8", "replace").strip()
    return XapiHttpError(response.status, reason, method=method, target=target.split("?")[0])


async def _send(
    client: XapiClient, method: str, path: str, query: dict[str, str], body: bytes = b""
) -> Response:
    """Send with redirects followed and one re-login on 401; returns a 2xx response."""
    relogged = False
    origin = client.origin
    target = _target(path, query, await client.session_ref())
    generation = client.session_generation
    hops = 0
    while True:
        if method == "CONNECT":
            response = await client.transport.connect(
                origin, target, [("Cookie", f"session_id={client.session}")]
            )
        else:
            response = await client.transport.request(
                Request(method, origin, target, [], body, len(body))
            )
        if 200 <= response.status < 300:
            return response
        redirect = _redirect(origin, response)
        if redirect is not None and hops < MAX_REDIRECTS:
            await response.aclose()
            hops += 1
            origin, target = redirect
            continue
        if response.status == 401 and not relogged:
            await response.aclose()
            relogged = True
            await client.recover(generation)
            target = _target(path, query, await client.session_ref())
            generation = client.session_generation
            origin = client.origin
            continue
        raise await _error(response, method, target)


async def get(client: XapiClient, path: str, query: dict[str, str]) -> Response:
    return await _send(client, "GET", path, query)


async def put(
    client: XapiClient,
    path: str,
    query: dict[str, str],
    body: AsyncIterable[bytes] | bytes,
    length: int,
    *,
    probe: bool,
) -> Response:
    if isinstance(body, bytes | bytearray | memoryview):
        if len(body) != length:
            raise ValueError(f"body has {len(body)} bytes, length says {length}")
        return await _send(client, "PUT", path, query, bytes(body))
    origin = client.origin
    if probe:
        origin = await _find_upload_host(
            client, path, {k: v for k, v in query.items() if k != "task_id"}
        )
    target = _target(path, query, await client.session_ref())
    response = await client.transport.request(Request("PUT", origin, target, [], body, length))
    if 200 <= response.status < 300:
        return response
    raise await _error(response, "PUT", target)


async def _find_upload_host(client: XapiClient, path: str, query: dict[str, str]) -> Origin:
    """Empty PUT to learn which host takes the upload: follows 302s and renews the session on
    401; any other answer means "this host" (xen-api ignores it too)."""
    origin = client.origin
    relogged = False
    hops = 0
    while True:
        generation = client.session_generation
        target = _target(path, query, await client.session_ref())
        response = await client.transport.request(Request("PUT", origin, target, [], b"", 0))
        await response.aclose()
        if response.status == 401 and not relogged:
            relogged = True
            await client.recover(generation)
            origin = client.origin
            continue
        redirect = _redirect(origin, response)
        if redirect is None or hops >= MAX_REDIRECTS:
            return origin
        hops += 1
        origin = redirect[0]


async def connect(client: XapiClient, path: str, query: dict[str, str]) -> trio.abc.Stream:
    response = await _send(client, "CONNECT", path, query)
    if response.tunnel is None:
        await response.aclose()
        raise XapiProtocolError(f"{client.origin.netloc}: CONNECT {path} gave no tunnel")
    return response.tunnel
