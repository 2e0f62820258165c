"""systemd's service notification protocol (sd_notify), a few lines of our own, no libsystemd.

systemd passes a unix datagram socket in ``NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract
namespace); each datagram is newline-separated ``KEY=value`` assignments. We send:

- ``READY=1`` once the listener is bound and the store is open (``Type=notify`` start-up ends),
- ``STATUS=...`` a one-line human status (``systemctl status`` shows it),
- ``WATCHDOG=1`` every half ``WATCHDOG_USEC`` from the main Trio loop (:func:`watchdog_task`), so a
  wedged loop stops the pings and systemd restarts the service,
- ``STOPPING=1`` when a graceful stop begins.

Outside systemd (no ``NOTIFY_SOCKET``) every call is a cheap no-op, so the app calls these
unconditionally.

The PyInstaller one-file binary runs the Python program in a child of its bootloader: the main
PID systemd knows (``WATCHDOG_PID``) is then our parent. :func:`watchdog_interval` accepts that
case, and the unit uses ``NotifyAccess=all`` so systemd accepts datagrams from the child
(see docs/appliance.md).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Callable, Mapping

import trio

log = logging.getLogger(__name__)

# The watchdog is pinged at this fraction of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises.
WATCHDOG_FRACTION = 0.5


def _socket_address(environ: Mapping[str, str]) -> str | bytes | None:
    address = environ.get("NOTIFY_SOCKET", "")
    if not address:
        return None
    if address.startswith("@"):
        # Abstract namespace: the leading '@' stands for a NUL byte.
        return b"\0" + address[1:].encode()
    if address.startswith("/"):
        return address
    # vsock: addresses (systemd >= 254, for VMs) are not something a service on the host needs.
    log.warning("unsupported NOTIFY_SOCKET address %r, notifications disabled", address)
    return None


def format_message(fields: Mapping[str, object]) -> bytes:
    """``{"READY": 1, "STATUS": "x"}`` -> ``b"READY=1\\nSTATUS=x\\n"``; a value may not hold a
    newline (it would start a new assignment)."""
    lines = []
    for key, value in fields.items():
        text = str(int(value)) if isinstance(value, bool) else str(value)
        if "\n" in text or "=" in key or "\n" in key:
            raise ValueError(f"invalid sd_notify assignment {key}={text!r}")
        lines.append(f"{key}={text}\n")
    return "".join(lines).encode()


def notify(*, environ: Mapping[str, str] | None = None, **fields: object) -> bool:
    """Send one notification, e.g. ``notify(READY=1, STATUS="serving")``.

    Returns whether a datagram was sent (False when not run by systemd). Never blocks: the
    socket is non-blocking and a full receive queue drops the message with a warning (systemd
    reads it promptly; the next watchdog ping or status supersedes a lost one).
    """
    address = _socket_address(os.environ if environ is None else environ)
    if address is None or not fields:
        return False
    message = format_message(fields)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.setblocking(False)
        try:
            sock.sendto(message, address)
        except BlockingIOError:
            log.warning("sd_notify socket busy, dropped %s", ",".join(fields))
            return False
        except OSError as exc:
            # The manager went away (e.g. systemd re-executing): nothing to tell anyone.
            log.warning("sd_notify failed: %s", exc)
            return False
    return True


def ready(status: str | None = None) -> bool:
    """Start-up is complete: the listener is bound and the store is open."""
    if status is None:
        return notify(READY=1)
    return notify(READY=1, STATUS=status)


def status(text: str) -> bool:
    """Set the one-line status shown by ``systemctl status``."""
    return notify(STATUS=text)


def stopping(status: str | None = "stopping") -> bool:
    """A graceful stop has begun."""
    if status is None:
        return notify(STOPPING=1)
    return notify(STOPPING=1, STATUS=status)


def pools_status(connected: int, total: int) -> str:
    """The STATUS text of xo-server: how many pools are connected."""
    return f"{connected}/{total} pools connected"


def _frozen_child_of(pid: int) -> bool:
    # PyInstaller one-file: the bootloader (systemd's main PID) runs us as its child.
    return bool(getattr(sys, "frozen", False)) and os.getppid() == pid


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between two ``WATCHDOG=1`` pings, or None when no watchdog is asked of us."""
    env = os.environ if environ is None else environ
    if _socket_address(env) is None:
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid_text = env.get("WATCHDOG_PID", "")
    if pid_text:
        try:
            pid = int(pid_text)
        except ValueError:
            return None
        if pid != os.getpid() and not _frozen_child_of(pid):
            return None  # the watchdog is meant for another process (e.g. our parent shell)
    return usec / 1_000_000 * WATCHDOG_FRACTION


async def watchdog_task(
    *, task_status: trio.TaskStatus[float | None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Ping the watchdog forever from the calling Trio loop; start it with ``nursery.start``.

    Reports the ping interval (None when the watchdog is disabled, and then returns at once).
    The pings come from the main loop on purpose: a loop that stops scheduling tasks stops
    pinging, so systemd restarts a wedged server.
    """
    interval = watchdog_interval()
    task_status.started(interval)
    if interval is None:
        return
    while True:
        notify(WATCHDOG=1)
        await trio.sleep(interval)


async def status_task(
    read_status: Callable[[], str],
    *,
    period: float = 2.0,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Send ``STATUS=read_status()`` whenever it changes, checking every ``period`` seconds.

    Polling a cheap callable keeps the app free of notification plumbing (``read_status`` may
    count connected pools); 2 s is quick enough for a human reading ``systemctl status``.
    """
    task_status.started()
    last: str | None = None
    while True:
        current = read_status()
        if current != last:
            status(current)
            last = current
        await trio.sleep(period)
