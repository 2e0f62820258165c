"""A minimal HTTP/1.1 client over trio sockets for benchmarks: it counts and optionally keeps
body bytes, and does nothing else, so what is measured is the server.

Bodies delimited by Content-Length, by the connection's close, or chunked are understood.
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

RECEIVE_BYTES = 256 * 1024


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes  # empty when the caller only counted
    length: int  # body bytes received


class Connection:
    """One keep-alive connection to ``host:port``."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self._buffer = bytearray()

    @classmethod
    async def open(cls, url: str) -> Connection:
        host, port = address_of(url)
        return cls(await trio.open_tcp_stream(host, port))

    async def aclose(self) -> None:
        await self.stream.aclose()

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        headers: dict[str, str] | None = None,
        keep: bool = True,
    ) -> Response:
        head = [f"{method} {path} HTTP/1.1", "Host: bench"]
        if body or method in ("POST", "PUT"):
            head.append(f"Content-Length: {len(body)}")
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}")
        await self.stream.send_all(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        return await self._response(keep)

    async def _fill(self) -> bool:
        data = await self.stream.receive_some(RECEIVE_BYTES)
        if not data:
            return False
        self._buffer += data
        return True

    async def _response(self, keep: bool) -> Response:
        while (end := self._buffer.find(b"\r\n\r\n")) < 0:
            if not await self._fill():
                raise ConnectionError("connection closed before the response head")
        head = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        del self._buffer[: end + 4]
        status = int(head[0].split()[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            return await self._sized(status, headers, int(headers["content-length"]), keep)
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return await self._chunked(status, headers, keep)
        return await self._until_close(status, headers, keep)

    async def _sized(self, status: int, headers: dict, length: int, keep: bool) -> Response:
        parts: list[bytes] = []
        got = 0
        while True:
            take = min(len(self._buffer), length - got)
            if take:
                if keep:
                    parts.append(bytes(self._buffer[:take]))
                del self._buffer[:take]
                got += take
            if got >= length:
                break
            if not await self._fill():
                raise ConnectionError("connection closed in the body")
        return Response(status, headers, b"".join(parts), got)

    async def _until_close(self, status: int, headers: dict, keep: bool) -> Response:
        parts: list[bytes] = [bytes(self._buffer)] if keep else []
        got = len(self._buffer)
        self._buffer.clear()
        receive = self.stream.receive_some
        while data := await receive(RECEIVE_BYTES):
            got += len(data)
            if keep:
                parts.append(data)
        return Response(status, headers, b"".join(parts), got)

    async def _chunked(self, status: int, headers: dict, keep: bool) -> Response:
        parts: list[bytes] = []
        got = 0
        while True:
            while (end := self._buffer.find(b"\r\n")) < 0:
                if not await self._fill():
                    raise ConnectionError("connection closed in a chunk head")
            size = int(bytes(self._buffer[:end]).split(b";")[0], 16)
            del self._buffer[: end + 2]
            while len(self._buffer) < size + 2:
                if not await self._fill():
                    raise ConnectionError("connection closed in a chunk")
            if keep:
                parts.append(bytes(self._buffer[:size]))
            got += size
            del self._buffer[: size + 2]
            if size == 0:
                return Response(status, headers, b"".join(parts), got)


def address_of(url: str) -> tuple[str, int]:
    """(host, port) of ``http://host:port[/...]``."""
    rest = url.split("://", 1)[-1].split("/", 1)[0]
    host, _, port = rest.rpartition(":")
    return host.strip("[]"), int(port)
