"""systemd/xo-server.service and systemd/config.toml: systemd accepts the unit, its hardening
stays under the exposure target, and the unit, the config and `xo server --config` agree.

systemd-analyze comes with Debian's systemd package (the Makefile's system-deps installs it).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from binary_process import REPO, UNIT

from xo.config import load_config

CONFIG = REPO / "systemd" / "config.toml"
INSTALLED_BINARY = "/usr/local/bin/xo"
EXPOSURE_TARGET = 2.0


def unit_settings(text: str) -> dict[str, list[str]]:
    """`Section.Key` -> every value assigned, in order (unit files repeat keys)."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return settings


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    # No systemd as PID 1 here: --offline / verify read the files only. SYSTEMD_LOG_COLOR=0
    # keeps the output plain.
    env = {**os.environ, "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": ""}
    return subprocess.run(
        ["systemd-analyze", *args], capture_output=True, text=True, timeout=120, env=env
    )


def unit_copy(tmp_path: Path, binary: Path, extra: str = "") -> Path:
    """The unit with ExecStart pointing at the built binary: `verify` checks that the command
    exists and is executable, and /usr/local/bin/xo is only there once installed."""
    text = UNIT.read_text()
    assert f"ExecStart={INSTALLED_BINARY} " in text
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace(f"ExecStart={INSTALLED_BINARY} ", f"ExecStart={binary} ") + extra)
    return copy


def test_systemd_analyze_verify_accepts_the_unit(binary: Path, tmp_path: Path) -> None:
    result = analyze("verify", str(unit_copy(tmp_path, binary)))
    assert result.returncode == 0, result.stderr
    # Warnings (unknown keys, bad values) do not change the exit status: none are allowed.
    assert result.stderr.strip() == "" and result.stdout.strip() == ""


def test_verify_really_reports_mistakes(binary: Path, tmp_path: Path) -> None:
    # The check above means something only if verify notices a broken unit.
    broken = unit_copy(tmp_path, binary, extra="\n[Service]\nProtectSytem=strict\n")
    result = analyze("verify", str(broken))
    assert "Unknown key" in result.stderr and "ProtectSytem" in result.stderr


def test_security_exposure_is_under_target() -> None:
    result = analyze("security", "--offline=yes", "--no-pager", str(UNIT))
    match = re.search(r"Overall exposure level for xo-server\.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) < EXPOSURE_TARGET


def test_unit_is_a_notify_service_with_a_watchdog_and_the_hardening_asked() -> None:
    settings = unit_settings(UNIT.read_text())

    def one(key: str) -> str:
        return settings[f"Service.{key}"][-1]

    assert one("Type") == "notify"
    # The one-file bootloader is the main PID; its child notifies (docs/appliance.md).
    assert one("NotifyAccess") == "all"
    assert one("KillMode") == "mixed"
    assert one("WatchdogSec").endswith("s")
    for key in ("ProtectHome", "PrivateTmp", "PrivateDevices", "NoNewPrivileges", "DynamicUser"):
        assert one(key) == "yes", key
    assert one("ProtectSystem") == "strict"
    assert one("MemoryDenyWriteExecute") == "yes"
    assert one("CapabilityBoundingSet") == "CAP_NET_BIND_SERVICE"
    assert one("AmbientCapabilities") == "CAP_NET_BIND_SERVICE"
    assert one("RestrictAddressFamilies").split() == ["AF_INET", "AF_INET6", "AF_UNIX"]
    assert settings["Service.SystemCallFilter"][0] == "@system-service"


def test_unit_and_config_agree_on_where_config_and_data_live() -> None:
    settings = unit_settings(UNIT.read_text())
    exec_start = settings["Service.ExecStart"][-1].split()
    assert exec_start[:2] == [INSTALLED_BINARY, "server"]
    config_path = exec_start[exec_start.index("--config") + 1]
    configuration_dir = settings["Service.ConfigurationDirectory"][-1]
    assert config_path == f"/etc/{configuration_dir}/config.toml"

    config = load_config(config_file=CONFIG, environ={})
    state_dir = settings["Service.StateDirectory"][-1]
    assert config.datadir == Path("/var/lib") / state_dir
    assert settings["Service.WorkingDirectory"][-1] == str(config.datadir)
    # The shipped example listens on a port below 1024, which is what the capability is for.
    assert any(listen.port < 1024 for listen in config.listen)
