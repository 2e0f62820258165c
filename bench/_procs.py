"""Benchmark subprocesses: xapi-sim and xo-server, each in its own process (so the RSS of
xo-server is its own), started with ``nursery.start`` and killed when the nursery ends."""

from __future__ import annotations

import re
import subprocess
import sys
from functools import partial
from typing import Any

import orjson
import trio

LISTENING = re.compile(r"listening on (http://\S+)")


class LineReader:
    """Lines of a process's stdout, read as they come."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self.stream = stream
        self._buffer = b""

    async def readline(self) -> str:
        while b"\n" not in self._buffer:
            data = await self.stream.receive_some(65536)
            if not data:
                raise EOFError("the process closed its stdout")
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace")

    async def drain(self) -> None:
        """Keep reading (and dropping) so the process never blocks on a full pipe."""
        while await self.stream.receive_some(65536):
            pass


async def start(nursery: trio.Nursery, argv: list[str], **kwargs: Any) -> tuple[Any, LineReader]:
    process = await nursery.start(
        partial(
            trio.run_process,
            argv,
            stdout=subprocess.PIPE,
            check=False,
            **kwargs,
        )
    )
    return process, LineReader(process.stdout)


async def start_sim(
    nursery: trio.Nursery, *, vms: int, hosts: int = 2, log: Any = subprocess.DEVNULL
) -> tuple[Any, dict[str, Any]]:
    """``python -m xo.sim --vms N``; returns (process, its pool line: master, username...)."""
    argv = [sys.executable, "-m", "xo.sim", "--vms", str(vms), "--hosts", str(hosts)]
    process, reader = await start(nursery, argv, stderr=log)
    with trio.fail_after(600):
        line = orjson.loads(await reader.readline())
    nursery.start_soon(reader.drain)
    return process, line


async def start_server(
    nursery: trio.Nursery, datadir: str, *, log: Any = subprocess.DEVNULL
) -> tuple[Any, str]:
    """``python -m xo.server_cli --listen 127.0.0.1:0``; returns (process, base http URL)."""
    argv = [
        sys.executable, "-m", "xo.server_cli", "--listen", "127.0.0.1:0", "--datadir", datadir,
    ]  # fmt: skip
    process, reader = await start(nursery, argv, stderr=log)
    with trio.fail_after(120):
        while True:
            match = LISTENING.search(await reader.readline())
            if match:
                break
    nursery.start_soon(reader.drain)
    return process, match.group(1)
