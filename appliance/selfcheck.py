"""`xo selfcheck`: prove a build is whole, without starting a server.

Imports every third-party module the server and the simulator use, runs each native extension
once (a PyInstaller build that forgot a shared library or a hidden import fails here, on the
build machine, not on a customer's), and lists the data files the resource lookup finds.
Prints one JSON object; exit status 0 only when everything passed.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable

# Every third-party import of the product, including those only reached lazily or through
# plugins of another library (hypercorn's trio worker, quart's JSON provider...).
MODULES = (
    "trio",
    "trio_websocket",
    "hypercorn.trio",
    "hypercorn.config",
    "quart",
    "quart_trio",
    "h11",
    "h2",
    "wsproto",
    "orjson",
    "msgpack",
    "xxhash",
    "zstandard",
    "argon2",
    "cryptography.x509",
    "cryptography.hazmat.primitives.asymmetric.ec",
    "XenAPI",
    "sqlite3",
    "ssl",
    "xo.resources",
    "xo.sdnotify",
)


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("xo")
    except PackageNotFoundError:
        return "unknown"


def _exercise_native() -> dict[str, Callable[[], object]]:
    def argon2_roundtrip() -> bool:
        from argon2 import PasswordHasher

        # Cheap parameters: this checks the extension loads, not the strength of the hash.
        hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        return hasher.verify(hasher.hash("admin"), "admin")

    def zstd_roundtrip() -> bool:
        import zstandard

        data = b"xo" * 1000
        return (
            zstandard.ZstdDecompressor().decompress(zstandard.ZstdCompressor().compress(data))
            == data
        )

    def xxh64() -> str:
        import xxhash

        return xxhash.xxh64(b"xo").hexdigest()

    def sqlite() -> str:
        import sqlite3

        with sqlite3.connect(":memory:") as db:
            return db.execute("select sqlite_version()").fetchone()[0]

    def certificate() -> bool:
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        return key.public_key().key_size == 256

    def orjson_roundtrip() -> bool:
        import orjson

        return orjson.loads(orjson.dumps({"a": [1, 2]})) == {"a": [1, 2]}

    def msgpack_roundtrip() -> bool:
        import msgpack

        return msgpack.unpackb(msgpack.packb({"a": 1})) == {"a": 1}

    def ssl_context() -> str:
        import ssl

        ssl.create_default_context()
        return ssl.OPENSSL_VERSION

    return {
        "argon2": argon2_roundtrip,
        "zstandard": zstd_roundtrip,
        "xxhash": xxh64,
        "sqlite3": sqlite,
        "cryptography": certificate,
        "orjson": orjson_roundtrip,
        "msgpack": msgpack_roundtrip,
        "ssl": ssl_context,
    }


def run() -> dict[str, object]:
    failures: dict[str, str] = {}
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception as exc:  # reported, not raised: the point is to list every failure
            failures[f"import {name}"] = repr(exc)
    native: dict[str, object] = {}
    for name, check in _exercise_native().items():
        try:
            native[name] = check()
        except Exception as exc:  # idem
            failures[f"run {name}"] = repr(exc)
    from xo import resources

    return {
        "version": version(),
        "frozen": bool(getattr(sys, "frozen", False)),
        "python": sys.version.split()[0],
        "native": native,
        "data_files": resources.data_files(),
        "failures": failures,
    }


def main(args: list[str]) -> int:
    report = run()
    print(json.dumps(report, sort_keys=True))
    return 1 if report["failures"] else 0
