"""Uniform benchmark output: one table per benchmark, every figure next to its in-run baseline."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    name: str
    value: float
    unit: str
    baseline: float | None = None  # same quantity measured for the baseline in this run
    baseline_name: str = ""
    target: str = ""  # the target, in words ("<= 1/3 of baseline", "< 50 ms")

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline


def print_table(title: str, rows: list[Row]) -> None:
    print(title)
    header = f"  {'measure':<44} {'value':>12} {'unit':<6} {'baseline':>12} {'ratio':>8}  target"
    print(header)
    print("  " + "-" * (len(header) - 2))
    for row in rows:
        base = f"{row.baseline:12.3f}" if row.baseline is not None else f"{'-':>12}"
        ratio = f"{row.ratio:8.3f}" if row.ratio is not None else f"{'-':>8}"
        print(f"  {row.name:<44} {row.value:12.3f} {row.unit:<6} {base} {ratio}  {row.target}")
        if row.baseline_name:
            print(f"  {'':<44} {'':>12} {'':<6} ({row.baseline_name})")
    print(flush=True)
