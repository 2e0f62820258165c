"""DiskStore: deterministic sparse contents, writes read back, copy-on-write clones."""

from __future__ import annotations

from xo.sim.disks import BLOCK, DiskStore


def test_deterministic_sparse_content() -> None:
    a, b = DiskStore(seed=1), DiskStore(seed=1)
    a.create("v", 100 * BLOCK + 123, seed=42)
    b.create("v", 100 * BLOCK + 123, seed=42)
    blocks = list(a.allocated_blocks("v"))
    assert blocks[0] == 0 and len(blocks) <= 6 and blocks == sorted(blocks)
    for index in blocks:
        data = a.read("v", index * BLOCK, BLOCK)
        assert data == b.read("v", index * BLOCK, BLOCK)
        assert any(data)
    zero = next(i for i in range(100) if i not in blocks)
    assert a.read("v", zero * BLOCK, BLOCK) == bytes(BLOCK)
    assert len(a.read("v", 100 * BLOCK, BLOCK)) == 123
    assert a.read("v", 101 * BLOCK, 10) == b""


def test_write_read_back_and_clone_is_copy_on_write() -> None:
    store = DiskStore()
    store.create_empty("v", 10 * BLOCK)
    assert list(store.allocated_blocks("v")) == []
    store.write("v", BLOCK - 3, b"abcdef")
    assert store.read("v", BLOCK - 3, 6) == b"abcdef"
    assert list(store.allocated_blocks("v")) == [0, 1]
    assert list(store.allocated_blocks("v", block_size=2 * BLOCK)) == [0]
    store.clone("v", "c")
    store.write("c", 0, b"X")
    assert store.read("v", 0, 1) == b"\0" and store.read("c", 0, 1) == b"X"
    store.write("v", 5 * BLOCK, bytes(range(256)) * 4096)
    assert store.read("v", 5 * BLOCK, BLOCK) == bytes(range(256)) * 4096
    store.resize("v", 2 * BLOCK)
    assert list(store.allocated_blocks("v")) == [0, 1]


def test_huge_disk_costs_nothing() -> None:
    store = DiskStore()
    store.create("big", 2 << 40)  # 2 TiB
    assert store.size("big") == 2 << 40
    assert len(list(store.allocated_blocks("big"))) <= 6


def test_generated_blocks_differ_and_views_match_reads() -> None:
    store = DiskStore()
    store.create("v", 64 * BLOCK + 5, seed=7)
    store.create("w", 64 * BLOCK, seed=8)
    # a dense disk: every block generated (what the export benchmark streams)
    store._disks["v"].generated = frozenset(range(65))
    blocks = [store.read("v", i * BLOCK, BLOCK) for i in range(64)]
    assert len(set(blocks)) == 64 and all(any(b) for b in blocks)
    assert store.read("w", 0, BLOCK) not in blocks
    for i in (0, 1, 63):
        view = store.read_view("v", i * BLOCK, BLOCK)
        assert bytes(view) == blocks[i]
    # partial and unaligned ranges fall back to read(); written blocks come back as stored
    assert store.read_view("v", 64 * BLOCK, BLOCK) == store.read("v", 64 * BLOCK, 5)
    assert store.read_view("v", 10, BLOCK) == store.read("v", 10, BLOCK)
    store.write("v", 2 * BLOCK, bytes(range(256)) * 4096)
    assert store.read_view("v", 2 * BLOCK, BLOCK) == bytes(range(256)) * 4096
    store.create_empty("z", 2 * BLOCK)
    assert store.read_view("z", BLOCK, BLOCK) == bytes(BLOCK)
