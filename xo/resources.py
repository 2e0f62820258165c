"""The one lookup for the data files shipped inside the ``xo`` package.

Migrations, the default configuration, and later the UI bundle live next to the code that uses
them (``xo/store/migrations/0001_init.sql``, ...) and are named here by their path relative to
the ``xo`` package, with ``/`` separators: ``read_text("store/migrations/0001_init.sql")``.

Everything goes through ``importlib.resources``, which works the same from the source tree, an
installed wheel (or any importer, zip included) and the PyInstaller binary, whose bootloader
unpacks the collected data files (appliance/xo.spec collects every non-Python file of the
package) and whose importer answers ``files()`` with that directory. Never build paths from
``__file__``: frozen modules have no meaningful one.

Errors: :class:`ResourceNotFound` (a ``FileNotFoundError``) for a name that is not shipped,
``ValueError`` for a name that tries to leave the package.
"""

from __future__ import annotations

import importlib.resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

PACKAGE = "xo"

# What counts as code rather than data when listing the package's files.
CODE_SUFFIXES = frozenset({".py", ".pyc", ".pyo", ".pyi", ".so", ".pyd"})


def is_data_file(file_name: str) -> bool:
    """Whether a file of the package is data to ship as such (the binary's spec and
    :func:`data_files` agree through this): not code, not a hidden file."""
    return not file_name.startswith(".") and PurePosixPath(file_name).suffix not in CODE_SUFFIXES


class ResourceNotFound(FileNotFoundError):
    """The named data file is not part of the package (not shipped, or a typo)."""


def _parts(name: str) -> tuple[str, ...]:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name:
        raise ValueError(f"resource names are relative paths inside the package: {name!r}")
    return path.parts


def root() -> Traversable:
    """The ``xo`` package as a Traversable (a directory, for every way we ship)."""
    return importlib.resources.files(PACKAGE)


def resource(name: str) -> Traversable:
    """The Traversable for ``name`` (which may not exist: see :func:`exists`); ``""`` is the
    package itself."""
    node = root()
    for part in _parts(name):
        node = node.joinpath(part)
    return node


def exists(name: str) -> bool:
    node = resource(name)
    return node.is_file() or node.is_dir()


def read_bytes(name: str) -> bytes:
    node = resource(name)
    if not node.is_file():
        raise ResourceNotFound(f"xo resource not found: {name}")
    return node.read_bytes()


def read_text(name: str, encoding: str = "utf-8") -> str:
    return read_bytes(name).decode(encoding)


def list_dir(name: str, suffix: str | None = None) -> list[str]:
    """Sorted file names directly inside the package directory ``name`` (e.g. migrations,
    ``suffix=".sql"``); an absent directory lists as empty, so a fresh feature may ship none."""
    node = resource(name)
    if not node.is_dir():
        return []
    names = (child.name for child in node.iterdir() if child.is_file())
    return sorted(n for n in names if suffix is None or n.endswith(suffix))


def data_files() -> list[str]:
    """Every data (non-code) file shipped in the package, as resource names, sorted.

    Used by ``xo selfcheck`` and the packaging tests to prove nothing was left behind.
    """
    found: list[str] = []

    def walk(node: Traversable, prefix: str) -> None:
        for child in node.iterdir():
            if child.name == "__pycache__" or child.name.startswith("."):
                continue
            name = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, name + "/")
            elif is_data_file(child.name):
                found.append(name)

    top = root()
    # A build with no data file at all has no package directory to walk (the frozen importer
    # answers a path that was never unpacked).
    if top.is_dir():
        walk(top, "")
    return sorted(found)


def directory_path(name: str) -> Path:
    """A real filesystem directory for ``name``, for servers that need a path (static files).

    True for the source tree, an installed wheel and the binary (unpacked at start); raises
    ResourceNotFound when the package is imported from somewhere that has no such directory
    (a zip), rather than silently extracting it.
    """
    node = resource(name)
    if isinstance(node, Path) and node.is_dir():
        return node
    raise ResourceNotFound(f"xo resource directory not on disk: {name}")
