"""Numbered SQL migrations (``NNNN_name.sql``), shipped as package data.

:func:`load_migrations` reads them through :mod:`xo.resources`, the project's one lookup for
data files (importlib.resources), so they load the same from a checkout, a wheel and the
PyInstaller binary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xo import resources

DIRECTORY = "store/migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """Every migration, in version order; numbering gaps or duplicates raise RuntimeError."""
    found: list[Migration] = []
    for file_name in resources.list_dir(DIRECTORY, suffix=".sql"):
        match = _NAME.match(file_name.rsplit("/", 1)[-1])
        if match is None:
            raise RuntimeError(f"badly named migration {file_name!r} (expected NNNN_name.sql)")
        text = resources.read_text(f"{DIRECTORY}/{match[0]}")
        found.append(Migration(int(match[1]), match[2], text))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(
            f"migrations must be numbered 1..n without gaps: {[m.version for m in found]}"
        )
    return found
