"""`xo-sim` / `python -m xo.sim` as a user runs it: JSON lines on stdout, clean exit on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import xmlrpc.client

import trio

from xo.sim.cli import build_parser, login_failure_delay

START_TIMEOUT = 60


async def _start(*args: str, stderr: int = subprocess.DEVNULL) -> trio.Process:
    """Start the simulator (`python -m xo.sim`, the same entry point as `xo-sim`)."""
    return await trio.lowlevel.open_process(
        [sys.executable, "-m", "xo.sim", *args], stdout=subprocess.PIPE, stderr=stderr
    )


async def _read_lines(stream: trio.abc.ReceiveStream, count: int) -> list[str]:
    buffer = b""
    while buffer.count(b"\n") < count:
        data = await stream.receive_some(65536)
        assert data, f"stdout closed after {buffer!r}"
        buffer += data
    return buffer.decode().splitlines()[:count]


def _login(url: str, username: str, password: str) -> str:
    proxy = xmlrpc.client.ServerProxy(url)
    reply = proxy.session.login_with_password(username, password)
    assert reply["Status"] == "Success", reply
    return reply["Value"]


async def test_cli_prints_one_json_line_per_pool_and_exits_0_on_sigterm() -> None:
    process = await _start("--pools", "2", "--hosts", "2", "--vms", "3", "--seed", "7")
    try:
        with trio.fail_after(START_TIMEOUT):
            lines = await _read_lines(process.stdout, 2)
        pools = [json.loads(line) for line in lines]
        assert len(pools) == 2
        for pool in pools:
            assert set(pool) == {"pool", "master", "hosts", "username", "password"}
            assert len(pool["hosts"]) == 2
            assert pool["master"] in pool["hosts"]
        # every host on its own loopback IP (pool index in the third byte), all on one port
        hosts = [url.rsplit(":", 1) for pool in pools for url in pool["hosts"]]
        assert [ip for ip, _ in hosts] == [
            "http://127.0.0.1", "http://127.0.0.2", "http://127.0.1.1", "http://127.0.1.2"
        ]  # fmt: skip
        assert len({port for _, port in hosts}) == 1
        session = await trio.to_thread.run_sync(
            _login, pools[0]["master"], pools[0]["username"], pools[0]["password"]
        )
        assert session.startswith("OpaqueRef:")
        # a slave answers HOST_IS_SLAVE with the master's bare IP, as a real host does
        slave = next(url for url in pools[0]["hosts"] if url != pools[0]["master"])
        reply = await trio.to_thread.run_sync(
            lambda: xmlrpc.client.ServerProxy(slave).session.login_with_password("root", "x")
        )
        assert reply["ErrorDescription"] == ["HOST_IS_SLAVE", "127.0.0.1"]
        process.send_signal(signal.SIGTERM)
        with trio.fail_after(30):
            code = await process.wait()
        assert code == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_cli_port_option_is_every_host_s_port_and_sigint() -> None:
    # find a free port: bind an ephemeral port and release it
    probe = trio.socket.socket()
    await probe.bind(("127.0.0.1", 0))
    first = probe.getsockname()[1]
    probe.close()
    process = await _start("--hosts", "2", "--vms", "1", "--port", str(first))
    try:
        with trio.fail_after(START_TIMEOUT):
            (line,) = await _read_lines(process.stdout, 1)
        pool = json.loads(line)
        assert pool["hosts"] == [f"http://127.0.0.1:{first}", f"http://127.0.0.2:{first}"]
        process.send_signal(signal.SIGINT)
        with trio.fail_after(30):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_cli_help_describes_every_option() -> None:
    result = await trio.run_process([sys.executable, "-m", "xo.sim", "--help"], capture_stdout=True)
    text = result.stdout.decode()
    for option in ("--pools", "--hosts", "--vms", "--seed", "--flavour", "--host", "--port",
                   "--tls", "--scenario", "--demo"):  # fmt: skip
        assert option in text
    assert "SIGTERM" in text


async def test_cli_demo_serves_an_xcpng_and_a_xenserver_pool_and_explains_itself() -> None:
    process = await _start("--demo", stderr=subprocess.PIPE)
    try:
        with trio.fail_after(START_TIMEOUT):
            lines = await _read_lines(process.stdout, 2)
            pools = [json.loads(line) for line in lines]
            explanation = await process.stderr.receive_some(65536)
        assert [len(pool["hosts"]) for pool in pools] == [3, 3]
        brands = set()
        for pool in pools:
            proxy = xmlrpc.client.ServerProxy(pool["master"])

            def brand(proxy=proxy, pool=pool) -> str:
                session = proxy.session.login_with_password(pool["username"], pool["password"])[
                    "Value"
                ]
                hosts = proxy.host.get_all_records(session)["Value"]
                vms = proxy.VM.get_all_records(session)["Value"]
                assert (
                    sum(
                        not vm["is_a_template"] and not vm["is_control_domain"]
                        for vm in vms.values()
                    )
                    >= 50
                )
                return next(iter(hosts.values()))["software_version"]["product_brand"]

            brands.add(await trio.to_thread.run_sync(brand))
        assert brands == {"XCP-ng", "XenServer"}
        assert pools[0]["master"].encode() in explanation
        process.send_signal(signal.SIGTERM)
        with trio.fail_after(30):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_login_failure_delay_defaults_to_xapi_s_and_shorter_for_the_demo() -> None:
    parser = build_parser()
    assert login_failure_delay(parser.parse_args([])) == 5.0
    assert login_failure_delay(parser.parse_args(["--demo"])) == 1.0
    assert login_failure_delay(parser.parse_args(["--demo", "--login-failure-delay", "0"])) == 0.0


async def test_cli_login_failure_delay_slows_failed_logins_only() -> None:
    process = await _start("--hosts", "1", "--vms", "1", "--login-failure-delay", "0.4")
    try:
        with trio.fail_after(START_TIMEOUT):
            (line,) = await _read_lines(process.stdout, 1)
        pool = json.loads(line)

        def timed(password: str) -> tuple[float, dict]:
            proxy = xmlrpc.client.ServerProxy(pool["master"])
            started = time.monotonic()
            reply = proxy.session.login_with_password(pool["username"], password)
            return time.monotonic() - started, reply

        elapsed, reply = await trio.to_thread.run_sync(timed, "wrong")
        assert reply["ErrorDescription"][0] == "SESSION_AUTHENTICATION_FAILED"
        assert elapsed >= 0.4
        elapsed, reply = await trio.to_thread.run_sync(timed, pool["password"])
        assert reply["Status"] == "Success" and elapsed < 0.4
        process.send_signal(signal.SIGTERM)
        with trio.fail_after(30):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_cli_refuses_a_negative_login_failure_delay() -> None:
    result = await trio.run_process(
        [sys.executable, "-m", "xo.sim", "--login-failure-delay", "-1"],
        capture_stderr=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert b"--login-failure-delay" in result.stderr
