"""xo-server's configuration: defaults < TOML file < environment (``XO_*``) < command-line flags.

The file is TOML in the spirit of xo-server's ``config.toml``::

    datadir = "/var/lib/xo-server"          # SQLite database and other state

    [http]
    trusted_origins = ["https://xo.example.net"]  # pages of these origins may open cookie
                                             # sessions too (a reverse proxy's public address)

    [[http.listen]]                          # one table per listener (XO's syntax)
    hostname = "0.0.0.0"
    port = 443
    cert = "/etc/xo-server/cert.pem"         # cert + key: HTTPS (all HTTPS listeners share
    key = "/etc/xo-server/key.pem"           # the first cert, a hypercorn limitation)


    [demo]                                   # the embedded simulator (xo-server --demo)
    enabled = false
    pools = 2
    hosts = 2
    vms = 10
    seed = 1

    [limits]
    max_frame_bytes = 4194304                # largest WebSocket message accepted
    max_concurrent_calls = 64                # in-flight calls per connection
    http_url_ttl = 600                       # seconds an unclaimed $getFrom/$sendTo URL lives

    [authentication]
    default_token_validity = "30 days"
    max_token_validity = "0.5 year"
    throttling_delay = 2                     # seconds refused after a failed sign-in

    [logging]
    level = "info"

Environment: ``XO_CONFIG`` (file), ``XO_LISTEN`` (``HOST:PORT[,HOST:PORT...]``), ``XO_DATADIR``,
``XO_DEMO`` (``1``/``0``), ``XO_LOG_LEVEL``. Flags: ``--config``, ``--listen`` (repeatable),
``--datadir``, ``--demo``.

:func:`load_config` validates everything once and raises :class:`ConfigError` whose message
names the bad key (``http.listen[0].port: must be an integer from 0 to 65535``). Unknown keys
are errors too: a typo must not be silently ignored.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xo.auth.durations import InvalidDuration, parse_duration


class ConfigError(ValueError):
    """One clear message naming the key at fault."""


@dataclass(frozen=True)
class ListenAddress:
    hostname: str = "127.0.0.1"
    port: int = 8080
    cert: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class DemoConfig:
    enabled: bool = False
    pools: int = 2
    hosts: int = 2
    vms: int = 10
    seed: int = 1


@dataclass(frozen=True)
class Limits:
    max_frame_bytes: int = 4 * 1024 * 1024
    max_concurrent_calls: int = 64
    http_url_ttl: float = 600.0


@dataclass(frozen=True)
class AuthConfig:
    default_token_validity_ms: float = parse_duration("30 days")
    max_token_validity_ms: float = parse_duration("0.5 year")
    throttling_delay: float = 2.0


@dataclass(frozen=True)
class Config:
    listen: tuple[ListenAddress, ...] = (ListenAddress(),)
    trusted_origins: frozenset[str] = frozenset()
    datadir: Path = Path("/var/lib/xo-server")
    demo: DemoConfig = field(default_factory=DemoConfig)
    limits: Limits = field(default_factory=Limits)
    auth: AuthConfig = field(default_factory=AuthConfig)
    log_level: str = "info"
    source: str | None = None  # the file read, if any

    @property
    def database_path(self) -> Path:
        return self.datadir / "xo-server.sqlite3"


LOG_LEVELS = ("debug", "info", "warning", "error")


# -- validation helpers -------------------------------------------------------------------------


def _table(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: must be a table")
    return value


def _no_unknown(table: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
    for name in table:
        if name not in allowed:
            where = f"{prefix}.{name}" if prefix else name
            raise ConfigError(f"{where}: unknown setting")


def _int(value: Any, key: str, low: int, high: int | None = None) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        bound = f"from {low} to {high}" if high is not None else f">= {low}"
        raise ConfigError(f"{key}: must be an integer {bound}")
    return value


def _str(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key}: must be a non-empty string")
    return value


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: must be true or false")
    return value


def _duration_ms(value: Any, key: str) -> float:
    try:
        duration = parse_duration(value)
    except InvalidDuration:
        raise ConfigError(
            f'{key}: must be a duration (milliseconds, or text like "30 days")'
        ) from None
    if duration <= 0:
        raise ConfigError(f"{key}: must be positive")
    return duration


def _seconds(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{key}: must be a number of seconds >= 0")
    return float(value)


def parse_listen(text: str, key: str) -> ListenAddress:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6, ``:PORT`` for all interfaces)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"{key}: must be HOST:PORT, not {text!r}")
    host = host.strip("[]") or "0.0.0.0"
    return ListenAddress(host, _int(int(port), key, 0, 65535))


def _listen_entry(value: Any, key: str) -> ListenAddress:
    table = _table(value, key)
    _no_unknown(table, {"hostname", "port", "cert", "key"}, key)
    cert = table.get("cert")
    tls_key = table.get("key")
    if (cert is None) != (tls_key is None):
        raise ConfigError(f"{key}: cert and key go together (HTTPS needs both)")
    return ListenAddress(
        hostname=_str(table.get("hostname", "0.0.0.0"), f"{key}.hostname"),
        port=_int(table.get("port", 80), f"{key}.port", 0, 65535),
        cert=None if cert is None else _str(cert, f"{key}.cert"),
        key=None if tls_key is None else _str(tls_key, f"{key}.key"),
    )


# -- sections -----------------------------------------------------------------------------------


def _origins(value: Any, key: str) -> frozenset[str]:
    """Origins as browsers send them: scheme://host[:port], no path, no trailing slash."""
    if not isinstance(value, list):
        raise ConfigError(f"{key}: must be an array of origins like \"https://xo.example.net\"")
    origins = set()
    for i, item in enumerate(value):
        text = _str(item, f"{key}[{i}]").rstrip("/")
        scheme, sep, rest = text.partition("://")
        if scheme not in ("http", "https") or not sep or not rest or "/" in rest:
            raise ConfigError(f"{key}[{i}]: must be an origin like \"https://xo.example.net\"")
        origins.add(text.lower())
    return frozenset(origins)


def _apply_file(config: dict[str, Any], data: Mapping[str, Any]) -> None:
    _no_unknown(data, {"datadir", "http", "demo", "limits", "authentication", "logging"}, "")
    if "datadir" in data:
        config["datadir"] = Path(_str(data["datadir"], "datadir"))
    if "http" in data:
        http = _table(data["http"], "http")
        _no_unknown(http, {"listen", "trusted_origins"}, "http")
        if "trusted_origins" in http:
            config["trusted_origins"] = _origins(http["trusted_origins"], "http.trusted_origins")
        if "listen" in http:
            entries = http["listen"]
            if isinstance(entries, Mapping):
                entries = [entries]
            if not isinstance(entries, list) or not entries:
                raise ConfigError("http.listen: must be a non-empty array of tables")
            config["listen"] = tuple(
                _listen_entry(entry, f"http.listen[{i}]") for i, entry in enumerate(entries)
            )
    if "demo" in data:
        demo = _table(data["demo"], "demo")
        _no_unknown(demo, {"enabled", "pools", "hosts", "vms", "seed"}, "demo")
        config["demo"] = DemoConfig(
            enabled=_bool(demo.get("enabled", False), "demo.enabled"),
            pools=_int(demo.get("pools", 2), "demo.pools", 1, 100),
            hosts=_int(demo.get("hosts", 2), "demo.hosts", 1, 64),
            vms=_int(demo.get("vms", 10), "demo.vms", 0, 100_000),
            seed=_int(demo.get("seed", 1), "demo.seed", 0),
        )
    if "limits" in data:
        limits = _table(data["limits"], "limits")
        _no_unknown(limits, {"max_frame_bytes", "max_concurrent_calls", "http_url_ttl"}, "limits")
        config["limits"] = Limits(
            max_frame_bytes=_int(
                limits.get("max_frame_bytes", Limits.max_frame_bytes),
                "limits.max_frame_bytes",
                1024,
            ),
            max_concurrent_calls=_int(
                limits.get("max_concurrent_calls", Limits.max_concurrent_calls),
                "limits.max_concurrent_calls",
                1,
            ),
            http_url_ttl=_seconds(
                limits.get("http_url_ttl", Limits.http_url_ttl), "limits.http_url_ttl"
            ),
        )
    if "authentication" in data:
        auth = _table(data["authentication"], "authentication")
        _no_unknown(
            auth,
            {"default_token_validity", "max_token_validity", "throttling_delay"},
            "authentication",
        )
        defaults = AuthConfig()
        config["auth"] = AuthConfig(
            default_token_validity_ms=_duration_ms(
                auth["default_token_validity"], "authentication.default_token_validity"
            )
            if "default_token_validity" in auth
            else defaults.default_token_validity_ms,
            max_token_validity_ms=_duration_ms(
                auth["max_token_validity"], "authentication.max_token_validity"
            )
            if "max_token_validity" in auth
            else defaults.max_token_validity_ms,
            throttling_delay=_seconds(
                auth.get("throttling_delay", defaults.throttling_delay),
                "authentication.throttling_delay",
            ),
        )
    if "logging" in data:
        logging_table = _table(data["logging"], "logging")
        _no_unknown(logging_table, {"level"}, "logging")
        if "level" in logging_table:
            config["log_level"] = _log_level(logging_table["level"], "logging.level")


def _log_level(value: Any, key: str) -> str:
    if not isinstance(value, str) or value.lower() not in LOG_LEVELS:
        raise ConfigError(f"{key}: must be one of {', '.join(LOG_LEVELS)}")
    return value.lower()


def _apply_overrides(
    config: dict[str, Any],
    *,
    listen: list[str] | None,
    datadir: str | None,
    demo: bool | None,
    listen_key: str,
) -> None:
    if listen:
        config["listen"] = tuple(parse_listen(text.strip(), listen_key) for text in listen)
    if datadir:
        config["datadir"] = Path(datadir)
    if demo is not None:
        current: DemoConfig = config.get("demo", DemoConfig())
        config["demo"] = DemoConfig(demo, current.pools, current.hosts, current.vms, current.seed)


def _env_bool(value: str, key: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{key}: must be 1 or 0")


def load_config(
    *,
    config_file: str | os.PathLike[str] | None = None,
    listen: list[str] | None = None,
    datadir: str | None = None,
    demo: bool | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """The configuration from every source, validated; raises :class:`ConfigError`."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_file or env.get("XO_CONFIG") or None
    if path is not None:
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except OSError as exc:
            raise ConfigError(f"config file {path}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: invalid TOML: {exc}") from None
        _apply_file(values, data)
        values["source"] = str(path)
    env_listen = env.get("XO_LISTEN")
    env_demo = env.get("XO_DEMO")
    _apply_overrides(
        values,
        listen=[item for item in env_listen.split(",") if item.strip()] if env_listen else None,
        datadir=env.get("XO_DATADIR"),
        demo=None if env_demo is None else _env_bool(env_demo, "XO_DEMO"),
        listen_key="XO_LISTEN",
    )
    if env.get("XO_LOG_LEVEL"):
        values["log_level"] = _log_level(env["XO_LOG_LEVEL"], "XO_LOG_LEVEL")
    _apply_overrides(
        values, listen=listen, datadir=datadir, demo=True if demo else None, listen_key="--listen"
    )
    config = Config(**values)
    if config.auth.default_token_validity_ms > config.auth.max_token_validity_ms:
        raise ConfigError(
            "authentication.default_token_validity: must not exceed max_token_validity"
        )
    return config
