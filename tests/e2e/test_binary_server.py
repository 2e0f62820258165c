"""xo-server from the appliance binary, as systemd runs it.

- the real xo-lib (npm) signs in and loads VMs from `xo-server --demo` started through the
  `xo-server` name (argv[0] dispatch), and the running program has no writable+executable
  memory (what MemoryDenyWriteExecute=yes needs);
- the sd_notify protocol over a unix datagram socket, with WATCHDOG_PID set the way systemd
  sets it (to the main PID: the one-file bootloader), in the unit's seccomp sandbox:
  READY=1 only once the port accepts, WATCHDOG=1 keeps coming, SIGTERM gives STOPPING=1, a 1001
  close on a connected WebSocket and exit status 0.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trio
from binary_process import CLEAN_ENV, REPO, open_binary_process, sandboxed
from trio_websocket import ConnectionClosed, open_websocket_url

JS_DIR = REPO / "tests" / "js"
NODE = shutil.which("node") or "node"
LISTENING = re.compile(rb"listening on (http://\S+)")
START_TIMEOUT = 60  # a cold binary build is done by the fixture; this is start-up only
STOP_TIMEOUT = 30  # TimeoutStopSec of the unit

# The real xo-lib from npm (CommonJS): sign in, then list VMs, waiting for the demo pools'
# objects to arrive through the `all` notifications rather than polling on a timer.
XO_LIB_CLIENT = """
const Xo = require('xo-lib').default;
const { once } = require('events');
(async () => {
  const xo = new Xo({ url: process.env.XO_URL });
  await xo.open();
  await xo.signIn({ email: 'admin@admin.net', password: 'admin' });
  let vms = {};
  for (;;) {
    vms = await xo.call('xo.getAllObjects', { filter: { type: 'VM' } });
    if (Object.keys(vms).length > 0) break;
    await once(xo, 'notification');
  }
  const list = Object.values(vms);
  console.log(JSON.stringify({
    user: xo.user.email,
    permission: xo.user.permission,
    vms: list.length,
    types: [...new Set(list.map(vm => vm.type))],
    powerStates: [...new Set(list.map(vm => vm.power_state))],
  }));
  await xo.close();
})().catch(error => { console.error(error); process.exit(1); });
"""


def server_command(datadir: Path) -> list[str]:
    return ["server", "--demo", "--listen", "127.0.0.1:0", "--datadir", str(datadir)]


async def test_xo_lib_signs_in_and_loads_vms_from_the_binary(binary: Path, tmp_path: Path) -> None:
    (tmp_path / "xo-server").symlink_to(binary)
    command = [str(tmp_path / "xo-server"), *server_command(tmp_path / "data")[1:]]
    async with open_binary_process(command, CLEAN_ENV) as server:
        with trio.fail_after(START_TIMEOUT):
            url = (await server.wait_for(LISTENING)).group(1).decode()
        client = await trio.run_process(
            [NODE, "-e", XO_LIB_CLIENT],
            cwd=JS_DIR,
            env={**CLEAN_ENV, "XO_URL": url},
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
        assert client.returncode == 0, client.stderr.decode()
        result = json.loads(client.stdout)
        assert result["user"] == "admin@admin.net"
        assert result["permission"] == "admin"
        assert result["vms"] > 0
        assert result["types"] == ["VM"]

        # MemoryDenyWriteExecute: after start-up, sign-in (argon2) and serving, no mapping of
        # the program is writable and executable at once.
        mappings = memory_mappings(server.program_pid())
        assert any("libpython" in line for line in mappings)
        assert [line for line in mappings if line.split()[1].startswith("rwx")] == []


def memory_mappings(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/maps").read_text().splitlines()


@dataclass
class NotifySocket:
    sock: socket.socket
    received: list[dict[str, str]] = field(default_factory=list)

    async def next(self) -> dict[str, str]:
        await trio.lowlevel.wait_readable(self.sock)
        text = self.sock.recv(4096).decode()
        message = dict(line.split("=", 1) for line in text.splitlines() if line)
        self.received.append(message)
        return message

    async def wait_for(self, key: str) -> dict[str, str]:
        while key not in (message := await self.next()):
            pass
        return message


@pytest.fixture
def notify_socket(tmp_path: Path) -> NotifySocket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.bind(str(tmp_path / "notify"))
    with sock:
        yield NotifySocket(sock)


def port_accepts(url: str) -> bool:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.socket() as probe:
        probe.settimeout(5)
        return probe.connect_ex((host, int(port))) == 0


def notified_server_command(binary: Path, datadir: Path) -> list[str]:
    """The binary as systemd starts it: in the unit's sandbox (SystemCallFilter=,
    MemoryDenyWriteExecute=), WATCHDOG_PID the main PID (`exec` keeps the shell's pid through
    the sandbox to the binary's bootloader)."""
    program = sandboxed([str(binary), *server_command(datadir)])
    return ["/bin/sh", "-c", 'WATCHDOG_PID=$$ exec "$@"', "sh", *program]


def notify_env(notify_socket: NotifySocket) -> dict[str, str]:
    return {
        **CLEAN_ENV,
        "NOTIFY_SOCKET": notify_socket.sock.getsockname(),
        "WATCHDOG_USEC": "400000",  # pings every 0.2 s
    }


async def test_sd_notify_ready_once_listening_then_graceful_stop_on_sigterm(
    binary: Path, tmp_path: Path, notify_socket: NotifySocket
) -> None:
    command = notified_server_command(binary, tmp_path)
    async with open_binary_process(command, notify_env(notify_socket)) as server:
        with trio.fail_after(START_TIMEOUT):
            ready = await notify_socket.wait_for("READY")
        assert ready["READY"] == "1"
        # The listener was bound before READY=1: its line is out and the port accepts now.
        with trio.fail_after(5):
            url = (await server.wait_for(LISTENING)).group(1).decode()
        assert await trio.to_thread.run_sync(port_accepts, url)

        ws_url = url.replace("http://", "ws://") + "/api/"
        async with open_websocket_url(ws_url) as ws:
            await ws.send_message(
                json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": 1,
                        "method": "session.signIn",
                        "params": {"email": "admin@admin.net", "password": "admin"},
                    }
                )
            )
            with trio.fail_after(30):
                while json.loads(await ws.get_message()).get("id") != 1:
                    pass

            server.process.send_signal(signal.SIGTERM)
            with trio.fail_after(STOP_TIMEOUT):
                stopping = await notify_socket.wait_for("STOPPING")
                assert stopping["STOPPING"] == "1"
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        await ws.get_message()
                assert closed.value.reason.code == 1001
                assert await server.process.wait() == 0


async def test_sd_notify_watchdog_pings_and_connected_pools_status(
    binary: Path, tmp_path: Path, notify_socket: NotifySocket
) -> None:
    command = notified_server_command(binary, tmp_path)
    async with open_binary_process(command, notify_env(notify_socket)) as server:
        with trio.fail_after(START_TIMEOUT):
            await notify_socket.wait_for("READY")
        # WATCHDOG_PID names the bootloader, our program's parent: the pings still come.
        with trio.fail_after(10):
            for _ in range(3):
                assert (await notify_socket.wait_for("WATCHDOG"))["WATCHDOG"] == "1"
        # STATUS= counts connected pools; the two demo pools connect after start-up.
        with trio.fail_after(30):
            while (await notify_socket.wait_for("STATUS"))["STATUS"] != "2/2 pools connected":
                pass
        server.process.send_signal(signal.SIGTERM)
        with trio.fail_after(STOP_TIMEOUT):
            assert await server.process.wait() == 0
