"""Freed C heap pages go back to the system after a load (glibc), harmlessly elsewhere."""

from __future__ import annotations

import ctypes.util

from xo.pools.memory import release_free_memory


def test_release_free_memory_uses_malloc_trim_where_libc_has_it() -> None:
    blocks = [bytearray(1 << 20) for _ in range(16)]
    del blocks
    has_glibc = ctypes.util.find_library("c") is not None
    assert release_free_memory() is has_glibc
