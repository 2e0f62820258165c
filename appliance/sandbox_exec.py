"""Run a command under the seccomp filters systemd would install for a unit, without systemd.

    python appliance/sandbox_exec.py --unit systemd/xo-server.service -- dist/xo server ...

Reads the unit's ``SystemCallFilter=`` (allow and ``~`` deny lists, ``@groups`` expanded by
the installed ``systemd-analyze syscall-filter``), ``SystemCallErrorNumber=`` and
``MemoryDenyWriteExecute=``, loads the equivalent filters through libseccomp (a dependency of
systemd), then execs the command: the tests run the binary this way to prove the unit's
sandbox does not break it, which they cannot do with systemd-run (no systemd as PID 1).

MemoryDenyWriteExecute is emulated the way systemd 252 (Debian 12) does it, with seccomp:
``mmap(PROT_WRITE|PROT_EXEC)``, ``mprotect``/``pkey_mprotect`` adding ``PROT_EXEC`` and
``shmat(SHM_EXEC)`` are refused. Newer systemd uses the kernel's PR_SET_MDWE, which is more
lenient, so passing this filter passes both.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import os
import subprocess
from pathlib import Path

# systemd allows these whatever the filter says (systemd.exec(5), SystemCallFilter=).
IMPLICITLY_ALLOWED = (
    "execve",
    "exit",
    "exit_group",
    "getrlimit",
    "rt_sigreturn",
    "sigreturn",
    "clock_gettime",
    "clock_gettime64",
    "gettimeofday",
    "time",
    "nanosleep",
    "clock_nanosleep",
    "clock_nanosleep_time64",
)

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7
PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000


def scmp_act_errno(number: int) -> int:
    return 0x00050000 | (number & 0xFFFF)


class ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def libseccomp() -> ctypes.CDLL:
    lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(ArgCmp),
    ]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def syscall_groups() -> dict[str, list[str]]:
    """Every ``@group`` of the installed systemd -> its members (syscalls or ``@groups``)."""
    out = subprocess.run(
        ["systemd-analyze", "syscall-filter", "--no-pager"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    groups: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in out.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not raw.startswith((" ", "\t")) and line.startswith("@"):
            current = groups.setdefault(line, [])
        elif current is not None:
            current.append(line)
    return groups


def expand(names: list[str], groups: dict[str, list[str]]) -> set[str]:
    found: set[str] = set()
    pending = list(names)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name.startswith("@"):
            pending.extend(groups[name])
        else:
            found.add(name)
    return found


def unit_settings(path: Path) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def allowed_syscalls(filters: list[str], groups: dict[str, list[str]]) -> set[str] | None:
    """systemd's reading of repeated SystemCallFilter= lines: the first decides allow- or
    deny-list mode; later allow lines add, ``~`` lines remove. None = no allow-list."""
    allowed: set[str] | None = None
    for value in filters:
        deny = value.startswith("~")
        names = expand(value.lstrip("~").split(), groups)
        if allowed is None:
            if deny:
                return None  # a deny-list-only filter: not needed by our unit, not emulated
            allowed = set(IMPLICITLY_ALLOWED)
        if deny:
            allowed -= names - set(IMPLICITLY_ALLOWED)
        else:
            allowed |= names
    return allowed


def load_syscall_filter(lib: ctypes.CDLL, allowed: set[str], error_number: int) -> None:
    ctx = lib.seccomp_init(scmp_act_errno(error_number))
    for name in sorted(allowed):
        number = lib.seccomp_syscall_resolve_name(name.encode())
        if number < 0:
            continue  # not a syscall of this architecture
        if lib.seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, number, 0, None) != 0:
            raise OSError(f"seccomp: cannot allow {name}")
    if lib.seccomp_load(ctx) != 0:
        raise OSError("seccomp_load (system call filter) failed")
    lib.seccomp_release(ctx)


def load_memory_deny_write_execute(lib: ctypes.CDLL) -> None:
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    rules = [
        ("mmap", PROT_WRITE | PROT_EXEC, PROT_WRITE | PROT_EXEC),
        ("mprotect", PROT_EXEC, PROT_EXEC),
        ("pkey_mprotect", PROT_EXEC, PROT_EXEC),
        ("shmat", SHM_EXEC, SHM_EXEC),
    ]
    for name, mask, value in rules:
        number = lib.seccomp_syscall_resolve_name(name.encode())
        condition = ArgCmp(2, SCMP_CMP_MASKED_EQ, mask, value)
        action = scmp_act_errno(errno.EPERM)
        if lib.seccomp_rule_add_array(ctx, action, number, 1, ctypes.byref(condition)) != 0:
            raise OSError(f"seccomp: cannot restrict {name}")
    if lib.seccomp_load(ctx) != 0:
        raise OSError("seccomp_load (MemoryDenyWriteExecute) failed")
    lib.seccomp_release(ctx)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--unit", type=Path, required=True, help="the .service file to follow")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command")
    settings = unit_settings(args.unit)
    lib = libseccomp()
    allowed = allowed_syscalls(settings.get("SystemCallFilter", []), syscall_groups())
    # MemoryDenyWriteExecute first: the system call filter forbids seccomp() itself.
    if settings.get("MemoryDenyWriteExecute", ["no"])[-1] in ("yes", "true", "1", "on"):
        load_memory_deny_write_execute(lib)
    if allowed is not None:
        error_name = settings.get("SystemCallErrorNumber", ["EPERM"])[-1]
        load_syscall_filter(lib, allowed, getattr(errno, error_name))
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
