"""Running the appliance binary from a test: the environment it gets, the unit's sandbox, and a
process that never outlives its test.

Import it as ``from binary_process import ...`` (tests/e2e is on the test path).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import trio

REPO = Path(__file__).resolve().parents[2]
# Run without the venv: nothing from the development environment may leak into the binary.
CLEAN_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent"}
UNIT = REPO / "systemd" / "xo-server.service"
FIRST_LINE = re.compile(rb"\A(.*)\n")


def sandboxed(command: list[str]) -> list[str]:
    """`command` under the seccomp filters systemd would install for xo-server.service
    (SystemCallFilter=, MemoryDenyWriteExecute=): see appliance/sandbox_exec.py."""
    return [
        sys.executable,
        str(REPO / "appliance" / "sandbox_exec.py"),
        "--unit",
        str(UNIT),
        "--",
        *command,
    ]


@dataclass
class BinaryProcess:
    process: trio.Process
    output: bytearray = field(default_factory=bytearray)

    async def wait_for(self, pattern: re.Pattern[bytes]) -> re.Match[bytes]:
        """The first match of `pattern` in everything the process has written to stdout."""
        while (match := pattern.search(self.output)) is None:
            chunk = await self.process.stdout.receive_some(65536)
            if not chunk:
                raise AssertionError(
                    f"the process exited before {pattern.pattern!r}: {self.output!r}"
                )
            self.output += chunk
        return match

    def program_pid(self) -> int:
        """The pid of the Python program: the one-file bootloader's only child."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        (pid,) = children.split()
        return int(pid)


@asynccontextmanager
async def open_binary_process(
    command: list[str], env: dict[str, str], *, cwd: str = "/"
) -> AsyncIterator[BinaryProcess]:
    """Start `command` with stdout piped; killed on exit if it is still running."""
    # Its own process group: SIGKILL cannot be forwarded by the one-file bootloader, so a
    # failed test kills the whole group, never leaving the program orphaned.
    process = await trio.lowlevel.open_process(
        command, stdout=subprocess.PIPE, env=env, cwd=cwd, start_new_session=True
    )
    try:
        yield BinaryProcess(process)
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
