"""The appliance binary (dist/xo, built once per session by appliance/build.sh, cached by a hash
of its inputs): whole, dispatching by command and by argv[0], serving the simulator, and
running under systemd's MemoryDenyWriteExecute.

The server parts (xo-lib sign-in, sd_notify) are in test_binary_server.py, the unit file in
test_binary_systemd.py.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio
import XenAPI
from binary_process import CLEAN_ENV, FIRST_LINE, open_binary_process, sandboxed

from xo import resources


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=CLEAN_ENV, **kwargs
    )


def test_selfcheck_finds_every_import_native_extension_and_data_file(binary: Path) -> None:
    result = run([str(binary), "selfcheck"], cwd="/")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["failures"] == {}
    assert report["frozen"] is True
    assert report["native"]["argon2"] is True
    assert report["native"]["zstandard"] is True
    # The resource lookup inside the binary sees exactly the data files of the source tree.
    assert report["data_files"] == resources.data_files()


def test_selfcheck_passes_in_the_units_sandbox(binary: Path) -> None:
    # argon2 (cffi), cryptography (Rust), sqlite3, ssl and the bootloader's own loading under
    # the unit's SystemCallFilter and MemoryDenyWriteExecute: the unit can keep both.
    result = run(sandboxed([str(binary), "selfcheck"]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["failures"] == {}


@pytest.mark.parametrize(
    "probe",
    [
        "import mmap; mmap.mmap(-1, 4096, prot=7)",  # MemoryDenyWriteExecute: W+X mapping
        "import os; os.setuid(0)",  # SystemCallFilter=~@privileged
        "import os; os.setpriority(os.PRIO_PROCESS, 0, 5)",  # SystemCallFilter=~@resources
    ],
)
def test_the_sandbox_really_refuses_what_the_unit_forbids(probe: str) -> None:
    # The sandboxed runs are only evidence if the sandbox bites.
    result = run(sandboxed([sys.executable, "-c", probe]))
    assert result.returncode != 0
    assert "PermissionError" in result.stderr
    allowed = run([sys.executable, "-c", "import mmap; mmap.mmap(-1, 4096, prot=5)"])
    assert allowed.returncode == 0


def test_no_bundled_library_needs_an_executable_stack_or_text_relocations(
    binary: Path, tmp_path: Path
) -> None:
    # Under MemoryDenyWriteExecute the loader cannot make a stack executable nor patch text:
    # every library the bootloader unpacks, loaded at start or later, must need neither.
    # (readelf comes with binutils, which PyInstaller needs to build: strip, objdump.)
    from PyInstaller.archive.readers import CArchiveReader

    archive = CArchiveReader(str(binary))
    checked, offenders = 0, []
    for name, entry in archive.toc.items():
        if entry[-1] not in ("b", "x"):  # binaries and extensions
            continue
        data = archive.extract(name)
        if not data or not data.startswith(b"\x7fELF"):
            continue
        path = tmp_path / "lib.so"
        path.write_bytes(data)
        out = subprocess.run(
            ["readelf", "--wide", "--program-headers", "--dynamic", str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        stack = [line for line in out.splitlines() if "GNU_STACK" in line]
        if "TEXTREL" in out or any("RWE" in line for line in stack):
            offenders.append(name)
        checked += 1
    assert checked > 20  # libpython, libcrypto, every extension module...
    assert offenders == []


def test_commands_are_dispatched_by_argv0(binary: Path, tmp_path: Path) -> None:
    (tmp_path / "xo-sim").symlink_to(binary)
    by_name = run([str(tmp_path / "xo-sim"), "--help"])
    by_command = run([str(binary), "sim", "--help"])
    assert by_name.returncode == 0 and by_command.returncode == 0
    assert by_name.stdout == by_command.stdout
    assert "usage: xo-sim" in by_name.stdout
    unknown = run([str(binary), "frobnicate"])
    assert unknown.returncode == 2
    assert "usage: xo COMMAND" in unknown.stderr


async def test_sim_from_the_binary_serves_a_pool_and_stops_on_sigterm(binary: Path) -> None:
    command = [str(binary), "sim", "--pools", "1", "--vms", "5"]
    async with open_binary_process(command, CLEAN_ENV) as sim:
        with trio.fail_after(30):
            pool = json.loads((await sim.wait_for(FIRST_LINE)).group(1))
        assert set(pool) >= {"pool", "master", "hosts", "username", "password"}

        def count_vms() -> int:
            session = XenAPI.Session(pool["master"])
            session.xenapi.login_with_password(pool["username"], pool["password"])
            try:
                records = session.xenapi.VM.get_all_records()
            finally:
                session.xenapi.session.logout()
            return sum(
                1
                for vm in records.values()
                if not vm["is_a_template"]
                and not vm["is_control_domain"]
                and not vm["is_a_snapshot"]
            )

        assert await trio.to_thread.run_sync(count_vms) == 5
        sim.process.send_signal(signal.SIGTERM)
        with trio.fail_after(15):
            assert await sim.process.wait() == 0
