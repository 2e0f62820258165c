"""Smoke run of the sim and server benchmarks (XO_BENCH_QUICK=1: 1,000 VMs, small disks).

Only checks that both run to the end and print their tables; benchmarks never assert on time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmarks_print_their_tables() -> None:
    env = {**os.environ, "XO_BENCH_QUICK": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "bench", "sim", "server"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = run.stdout
    assert run.returncode == 0, out + run.stderr
    assert "failed" not in out
    for title in (
        "sim exports over loopback",
        "sim event.from fan-out",
        "sim get_all_records load",
        "xo-server: one pool of 1000 VMs",
    ):
        assert title in out, out
    for measure in (
        "raw export, 64 MiB dense disk",
        "XVA export, 64 MiB dense disk",
        "event.from in process",
        "get_all_records JSON-RPC",
        "get_all_records XML-RPC",
        "full load: server.add -> connected",
        "xo.getAllObjects JSON",
        "xo.getAllObjects msgpack",
        "RSS with the pool loaded",
        "event latency p99",
        "notifications lost",
        "WebSocket round trip system.getVersion",
    ):
        assert measure in out, out
