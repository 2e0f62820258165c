"""The ``xo-server`` command: start-up line, graceful stop on signals, configuration errors."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

LISTENING = re.compile(rb"listening on (http://\S+)")


class Output:
    """Everything a process printed so far."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self.stream = stream
        self.seen = b""

    async def until(self, pattern: re.Pattern[bytes]) -> re.Match[bytes]:
        while (match := pattern.search(self.seen)) is None:
            data = await self.stream.receive_some()
            assert data, f"xo-server exited before printing {pattern.pattern!r}: {self.seen!r}"
            self.seen += data
        return match


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_starts_prints_its_url_and_stops_gracefully(tmp_path: Path, signum: int) -> None:
    command = [
        sys.executable,
        "-m",
        "xo.server_cli",
        "--listen",
        "127.0.0.1:0",
        "--datadir",
        str(tmp_path),
    ]
    async with trio.open_nursery() as nursery:
        process = await nursery.start(
            partial(
                trio.run_process,
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                check=False,
            )
        )
        output = Output(process.stdout)
        with trio.fail_after(30):
            match = await output.until(LISTENING)
            await output.until(re.compile(rb"admin@admin.net / admin .*CHANGE THIS PASSWORD"))
        url = match[1].decode()
        async with open_websocket_url(url.replace("http://", "ws://") + "/api/") as ws:
            await ws.send_message('{"jsonrpc":"2.0","id":1,"method":"system.getVersion"}')
            assert await ws.get_message() == '{"id":1,"jsonrpc":"2.0","result":"0.1"}'
            process.send_signal(signum)
            with trio.fail_after(10), pytest.raises(ConnectionClosed):
                await ws.get_message()
            assert ws.closed is not None and ws.closed.code == 1001
        with trio.fail_after(10):
            assert await process.wait() == 0
    assert (tmp_path / "xo-server.sqlite3").exists()


async def test_invalid_configuration_is_one_line_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[[http.listen]]\nport = 99999\n")
    result = await trio.run_process(
        [sys.executable, "-m", "xo.server_cli", "--config", str(config)],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.decode().strip() == (
        "xo-server: invalid configuration: http.listen[0].port: must be an integer from 0 to 65535"
    )
