"""sd_notify over a real unix datagram socket, as systemd would receive it."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from xo import sdnotify


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.bind(path)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    yield sock
    sock.close()


async def receive(sock: socket.socket) -> dict[str, str]:
    with trio.fail_after(5):
        await trio.lowlevel.wait_readable(sock)
    data = sock.recv(4096)
    text = data.decode()
    assert text.endswith("\n")
    return dict(line.split("=", 1) for line in text.splitlines())


def test_format_message_is_newline_separated_assignments() -> None:
    assert sdnotify.format_message({"READY": 1, "STATUS": "a b"}) == b"READY=1\nSTATUS=a b\n"
    assert sdnotify.format_message({"READY": True}) == b"READY=1\n"


def test_format_message_refuses_a_newline_that_would_inject_an_assignment() -> None:
    with pytest.raises(ValueError):
        sdnotify.format_message({"STATUS": "ok\nREADY=1"})


def test_without_notify_socket_every_call_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    assert sdnotify.ready("up") is False
    assert sdnotify.notify(WATCHDOG=1) is False
    assert sdnotify.watchdog_interval() is None


async def test_ready_status_and_stopping_arrive_as_datagrams(notify_socket) -> None:
    assert sdnotify.ready("0/1 pools connected")
    assert await receive(notify_socket) == {"READY": "1", "STATUS": "0/1 pools connected"}
    assert sdnotify.status(sdnotify.pools_status(1, 1))
    assert await receive(notify_socket) == {"STATUS": "1/1 pools connected"}
    assert sdnotify.stopping()
    assert await receive(notify_socket) == {"STOPPING": "1", "STATUS": "stopping"}


async def test_abstract_namespace_address(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"xo-test-notify-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.bind(b"\0" + name.encode())
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.notify(READY=1)
        assert await receive(sock) == {"READY": "1"}


def test_a_vanished_manager_is_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens"))
    assert sdnotify.notify(READY=1) is False


def test_watchdog_interval_is_half_of_watchdog_usec(notify_socket, monkeypatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert sdnotify.watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert sdnotify.watchdog_interval() == 15.0


def test_watchdog_meant_for_another_process_is_ignored(notify_socket, monkeypatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    # Our parent is not a PyInstaller bootloader here (sys.frozen is unset): not for us.
    monkeypatch.setenv("WATCHDOG_PID", str(os.getppid()))
    assert sdnotify.watchdog_interval() is None


def test_frozen_child_accepts_the_watchdog_of_its_bootloader(notify_socket, monkeypatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getppid()))
    monkeypatch.setattr("sys.frozen", True, raising=False)
    assert sdnotify.watchdog_interval() == 15.0


def test_invalid_watchdog_values_disable_it(notify_socket, monkeypatch) -> None:
    for value in ("", "0", "-5", "soon"):
        monkeypatch.setenv("WATCHDOG_USEC", value)
        assert sdnotify.watchdog_interval() is None


async def test_watchdog_task_keeps_pinging_from_the_loop(notify_socket, monkeypatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "20000")  # 20 ms: pings every 10 ms
    async with trio.open_nursery() as nursery:
        interval = await nursery.start(sdnotify.watchdog_task)
        assert interval == pytest.approx(0.01)
        for _ in range(3):
            assert await receive(notify_socket) == {"WATCHDOG": "1"}
        nursery.cancel_scope.cancel()


async def test_watchdog_task_without_watchdog_reports_none_and_returns(notify_socket) -> None:
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            assert await nursery.start(sdnotify.watchdog_task) is None


async def test_status_task_sends_only_changes(notify_socket, autojump_clock) -> None:
    current = "0/2 pools connected"

    def read_status() -> str:
        return current

    async def run_status(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await sdnotify.status_task(read_status, period=1.0, task_status=task_status)

    async with trio.open_nursery() as nursery:
        await nursery.start(run_status)
        assert await receive(notify_socket) == {"STATUS": "0/2 pools connected"}
        await trio.sleep(10)  # virtual time: ten polls of an unchanged status
        with pytest.raises(BlockingIOError):
            notify_socket.recv(4096)
        current = "2/2 pools connected"
        await trio.sleep(1)
        assert await receive(notify_socket) == {"STATUS": "2/2 pools connected"}
        nursery.cancel_scope.cancel()
