"""`make bench` / `python -m bench [NAME ...]`: run every bench/bench_*.py (or the named ones).

Each benchmark module exposes `main()`; it measures our figure and a baseline in the same run and
prints a table through `bench.report`. Benchmarks never assert on time: they report.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import bench


def discover() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.iter_modules(bench.__path__)
        if info.name.startswith("bench_")
    )


def main(argv: list[str]) -> int:
    wanted = argv or discover()
    failed = []
    for name in wanted:
        module_name = name if name.startswith("bench_") else f"bench_{name}"
        print(f"\n=== {module_name} ===", flush=True)
        started = time.perf_counter()
        try:
            importlib.import_module(f"bench.{module_name}").main()
        except Exception as exc:  # a broken benchmark must not hide the others' figures
            failed.append(module_name)
            print(f"!! {module_name} failed: {exc!r}", flush=True)
        print(f"({module_name}: {time.perf_counter() - started:.1f} s)", flush=True)
    if failed:
        print(f"\nfailed benchmarks: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
