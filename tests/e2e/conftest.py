"""Fixtures of the appliance binary tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from binary_process import REPO


@pytest.fixture(scope="session")
def binary() -> Path:
    # appliance/build.sh is a no-op when its hash of the inputs is unchanged. The path goes to
    # XO_TEST_BINARY so that a later session (or a subprocess) reuses it even if the tree
    # changed meanwhile; set XO_TEST_BINARY yourself to test a given build (a release artifact).
    if not os.environ.get("XO_TEST_BINARY"):
        result = subprocess.run(
            [str(REPO / "appliance" / "build.sh")],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert result.returncode == 0, result.stderr[-4000:]
        os.environ["XO_TEST_BINARY"] = result.stdout.strip().splitlines()[-1]
    path = Path(os.environ["XO_TEST_BINARY"]).resolve()
    assert path.is_file() and os.access(path, os.X_OK)
    return path
