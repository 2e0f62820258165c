"""The appliance binary against the same server run from the venv.

- binary size (target < 50 MB);
- start to first HTTP 200 (`GET /`) and to first successful `session.signIn` over the API
  WebSocket (target < 1.0 s), on a fresh data directory (first boot: migrations, default
  admin) and on an existing one (every later start), page cache warm;
- idle RSS after a sign-in: the binary's program plus its one-file bootloader vs the venv's
  single process.

`python -m bench binary` or `python -m bench.bench_binary`. Prints a table; asserts nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import trio
from trio_websocket import open_websocket_url

from bench.report import Row, print_table

REPO = Path(__file__).resolve().parents[1]
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
LISTENING = re.compile(r"listening on (http://\S+)")
RUNS = 5
TARGET_SIZE = "< 50 MB"
TARGET_START = "< 1.0 s"


def build_binary() -> Path:
    result = subprocess.run(
        [str(REPO / "appliance" / "build.sh")], capture_output=True, text=True, check=True
    )
    return Path(result.stdout.strip().splitlines()[-1])


@dataclass
class Start:
    to_http_200: float
    to_sign_in: float
    cpu_to_http_200: float  # CPU seconds (user + system) of the process tree until then
    rss_kib: int


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    children_file = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in children_file.read_text().split()] if children_file.exists() else []


def tree_rss_kib(pid: int) -> int:
    """RSS of a process and its children (the one-file bootloader runs the program as a child)."""
    return rss_kib(pid) + sum(tree_rss_kib(child) for child in children(pid))


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live children: unlike wall time, barely
    changed by other work on the machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    own = ticks / os.sysconf("SC_CLK_TCK")
    return own + sum(tree_cpu_seconds(child) for child in children(pid))


async def sign_in(url: str) -> None:
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "session.signIn",
        "params": {"email": "admin@admin.net", "password": "admin"},
    }
    async with open_websocket_url(url.replace("http://", "ws://") + "/api/") as ws:
        await ws.send_message(json.dumps(request))
        while True:
            reply = json.loads(await ws.get_message())
            if reply.get("id") == 1:
                if "error" in reply:
                    raise RuntimeError(f"sign-in failed: {reply['error']}")
                return


def measure_start(command: list[str], datadir: Path) -> Start:
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(datadir)}
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, "--listen", "127.0.0.1:0", "--datadir", str(datadir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,  # killpg below reaches the one-file bootloader's child too
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            match = LISTENING.search(line)
            if match:
                url = match.group(1)
                break
        else:
            raise RuntimeError(f"{command} exited without listening")
        with urllib.request.urlopen(url + "/", timeout=30) as response:
            assert response.status == 200
        to_http_200 = time.perf_counter() - started
        cpu_to_http_200 = tree_cpu_seconds(process.pid)
        trio.run(sign_in, url)
        to_sign_in = time.perf_counter() - started
        rss = tree_rss_kib(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return Start(to_http_200, to_sign_in, cpu_to_http_200, rss)


def run_starts(command: list[str], fresh: bool) -> list[Start]:
    starts = []
    with tempfile.TemporaryDirectory(prefix="xo-bench-") as tmp:
        datadir = Path(tmp) / "data"
        if not fresh:
            measure_start(command, datadir)  # first boot, not counted
        for _ in range(RUNS):
            if fresh:
                shutil.rmtree(datadir, ignore_errors=True)
            starts.append(measure_start(command, datadir))
    return starts


def main() -> None:
    binary = build_binary()
    binary_cmd = [str(binary), "server"]
    venv_cmd = [str(VENV_PYTHON), "-m", "xo.server_cli"]
    rows = [Row("binary size", binary.stat().st_size / 1e6, "MB", target=TARGET_SIZE)]
    measures: dict[str, Callable[[Start], float]] = {
        "first HTTP 200": lambda s: s.to_http_200,
        "first sign-in": lambda s: s.to_sign_in,
        "CPU time to first HTTP 200": lambda s: s.cpu_to_http_200,
    }
    # Median: what a start costs on this machine as it is; best: the cost without the noise of
    # whatever else runs (other test suites on a shared machine).
    summaries: dict[str, Callable[[list[float]], float]] = {
        "median": statistics.median,
        "best": min,
    }
    for fresh, label in ((False, "existing datadir"), (True, "first boot")):
        on_binary = run_starts(binary_cmd, fresh)
        on_venv = run_starts(venv_cmd, fresh)
        for name, measure in measures.items():
            for summary_name, summary in summaries.items():
                rows.append(
                    Row(
                        f"{name}, {label}, {summary_name}",
                        summary([measure(s) for s in on_binary]),
                        "s",
                        baseline=summary([measure(s) for s in on_venv]),
                        baseline_name="same server from the venv",
                        target=TARGET_START,
                    )
                )
        if not fresh:
            rows.append(
                Row(
                    "idle RSS (bootloader + program)",
                    statistics.median(s.rss_kib for s in on_binary) / 1024,
                    "MiB",
                    baseline=statistics.median(s.rss_kib for s in on_venv) / 1024,
                    baseline_name="venv process",
                )
            )
    title = f"appliance binary ({binary}): seconds from spawn, {RUNS} starts each, page cache warm"
    print_table(title, rows)


if __name__ == "__main__":
    sys.exit(main())
