"""Giving the memory a full load used and freed back to the system.

A full load decodes tens of MB of JSON; the big blocks (reply bodies, large dicts and strings)
come from glibc's malloc, which keeps freed heap pages mapped: the process's RSS stays at its
peak although Python freed them. ``malloc_trim(0)`` returns every free page of the heap to the
system (MADV_DONTNEED), measured at -140 MB after a 10,000-VM load in ~10 ms. Without glibc
(musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def _find_malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_malloc_trim = _find_malloc_trim()
# After a full load, the heap is trimmed again this long after (once the first clients have
# been sent every new object).
AFTER_LOAD_TRIM_DELAY = 1.0


def release_free_memory() -> bool:
    """Return the C heap's free pages to the system; False when libc cannot."""
    if _malloc_trim is None:
        return False
    _malloc_trim(0)
    return True


# Diagnostics: with ``XO_TRACEMALLOC=<file>`` and tracing on (``python -X tracemalloc=1`` or
# ``PYTHONTRACEMALLOC=1``), the biggest allocation sites are written to <file> some seconds
# after each full load (once the first clients have been notified).
TRACEMALLOC_ENV = "XO_TRACEMALLOC"
TRACEMALLOC_DELAY = 5.0


def tracemalloc_report_path() -> str | None:
    import os
    import tracemalloc

    path = os.environ.get(TRACEMALLOC_ENV)
    return path if path and tracemalloc.is_tracing() else None


def write_tracemalloc_report(path: str, label: str, top: int = 40) -> None:
    import gc
    import tracemalloc

    gc.collect()
    snapshot = tracemalloc.take_snapshot()
    current, peak = tracemalloc.get_traced_memory()
    with open(path, "a") as out:
        out.write(f"== {label}: traced {current / 1e6:.1f} MB, peak {peak / 1e6:.1f} MB\n")
        for key in ("filename", "lineno"):
            out.write(f"-- by {key}\n")
            for stat in snapshot.statistics(key)[:top]:
                out.write(f"{stat}\n")
    log.warning("tracemalloc report written to %s", path)


# Diagnostics: ``XO_GC_LOG=1`` logs (warning level) every cyclic GC pass longer than 5 ms,
# with its generation and the number of objects it could see: the usual cause of event
# latency spikes in a process holding a million objects.
GC_LOG_ENV = "XO_GC_LOG"
GC_LOG_MIN = 0.005
_gc_started: list[float] = []


def install_gc_log() -> None:
    import gc
    import os
    import time

    if not os.environ.get(GC_LOG_ENV) or _gc_started:
        return
    _gc_started.append(0.0)

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            _gc_started[0] = time.perf_counter()
            return
        elapsed = time.perf_counter() - _gc_started[0]
        if elapsed >= GC_LOG_MIN:
            log.warning(
                "gc generation %d: %.1f ms, %d collected, counts %s, %d frozen",
                info["generation"], elapsed * 1000, info["collected"], gc.get_count(),
                gc.get_freeze_count(),
            )  # fmt: skip

    detail = os.environ.get(GC_LOG_ENV) == "2"

    def on_gc_detail(phase: str, info: dict[str, int]) -> None:
        on_gc(phase, info)
        if phase == "stop" and info["generation"] == 2 and detail:
            import collections

            objects = gc.get_objects()
            sizes = collections.Counter()
            for obj in objects:
                if obj.__class__ in (dict, set, list, frozenset):
                    sizes[obj.__class__.__name__ + "-entries"] += len(obj)
            kinds = collections.Counter(type(obj).__name__ for obj in objects)
            log.warning("tracked %d: %s %s", len(objects), kinds.most_common(8), sizes)

    gc.callbacks.append(on_gc_detail)
