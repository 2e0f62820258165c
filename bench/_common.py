"""Shared bits of the benchmarks: quick mode, sizes, percentiles, process memory."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

MiB = 1 << 20
GiB = 1 << 30


def quick() -> bool:
    """``XO_BENCH_QUICK=1``: a smoke run (1,000 VMs, small disks), same tables."""
    return os.environ.get("XO_BENCH_QUICK", "") not in ("", "0")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process (Linux /proc)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def xapi_json_default(value: Any) -> Any:
    """What XAPI's JSON-RPC makes of the sim's Python values (for orjson baselines)."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y%m%dT%H:%M:%SZ")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(type(value))
