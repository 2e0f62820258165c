"""The one resource lookup: the source tree, a zip importer, and what a wheel would ship.

The PyInstaller binary is checked by tests/e2e/test_binary.py (`xo selfcheck` lists the same
data files as the source tree).
"""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from xo import resources

REPO = Path(__file__).resolve().parents[2]


def source_data_files() -> list[str]:
    package = REPO / "xo"
    return sorted(
        path.relative_to(package).as_posix()
        for path in package.rglob("*")
        if path.is_file()
        and not any(part == "__pycache__" or part.startswith(".") for part in path.parts)
        and resources.is_data_file(path.name)
    )


def test_data_files_lists_every_non_code_file_of_the_source_tree() -> None:
    assert resources.data_files() == source_data_files()


def test_every_data_file_is_shipped_by_the_wheel_package_data() -> None:
    # A wheel holds only the files matched by package-data: a data file added without a
    # matching pattern works from the source tree and breaks once installed.
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["*"]
    unshipped = [
        name
        for name in source_data_files()
        if not any(fnmatch.fnmatch(Path(name).name, pattern) for pattern in patterns)
    ]
    assert unshipped == []


@pytest.mark.parametrize("name", ["/etc/passwd", "../pyproject.toml", "store/../../x", "a\\b"])
def test_names_cannot_leave_the_package(name: str) -> None:
    with pytest.raises(ValueError):
        resources.resource(name)


def test_reading_a_missing_resource_says_which() -> None:
    with pytest.raises(resources.ResourceNotFound, match="no/such.sql"):
        resources.read_text("no/such.sql")
    assert not resources.exists("no/such.sql")
    assert resources.list_dir("no/such/dir") == []


def test_source_tree_files_are_read_and_listed() -> None:
    # Code files are resources too from the source tree: enough to exercise the lookup on a
    # package that ships no data file yet.
    assert resources.read_text("sdnotify.py").startswith('"""')
    assert "resources.py" in resources.list_dir("", suffix=".py")
    assert resources.directory_path("sim").is_dir()


ZIP_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from xo import resources
out = {
    "origin": resources.__file__,
    "text": resources.read_text("store/migrations/0001_test.sql"),
    "listed": resources.list_dir("store/migrations", suffix=".sql"),
    "data": resources.data_files(),
}
try:
    resources.directory_path("store/migrations")
except resources.ResourceNotFound:
    out["directory"] = "not on disk"
print(json.dumps(out))
"""


def test_lookup_works_from_a_zip_importer(tmp_path: Path) -> None:
    # Nothing may assume a filesystem: importlib.resources answers from the zip itself.
    archive = tmp_path / "xo.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for module in ("__init__.py", "resources.py"):
            zf.write(REPO / "xo" / module, f"xo/{module}")
        zf.writestr("xo/store/migrations/0001_test.sql", "create table t (x);\n")
        zf.writestr("xo/store/migrations/0002_test.sql", "select 1;\n")
    # -S: no site-packages, so the editable install cannot answer instead of the zip.
    result = subprocess.run(
        [sys.executable, "-S", "-c", ZIP_PROBE, str(archive)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = json.loads(result.stdout)
    assert out["origin"].startswith(str(archive))
    assert out["text"] == "create table t (x);\n"
    assert out["listed"] == ["0001_test.sql", "0002_test.sql"]
    assert out["data"] == ["store/migrations/0001_test.sql", "store/migrations/0002_test.sql"]
    assert out["directory"] == "not on disk"
