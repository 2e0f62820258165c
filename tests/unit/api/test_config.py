"""Configuration: sources, precedence and one clear error naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from xo.config import ConfigError, ListenAddress, load_config


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return str(path)


def test_defaults() -> None:
    config = load_config(environ={})
    assert config.listen == (ListenAddress("127.0.0.1", 8080),)
    assert not config.demo.enabled
    assert config.limits.max_frame_bytes == 4 * 1024 * 1024


def test_file_env_and_flags_in_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
datadir = "/srv/xo"
[[http.listen]]
hostname = "0.0.0.0"
port = 443
cert = "c.pem"
key = "k.pem"
[demo]
pools = 3
""",
    )
    config = load_config(config_file=path, environ={})
    assert config.listen == (ListenAddress("0.0.0.0", 443, "c.pem", "k.pem"),)
    assert config.datadir == Path("/srv/xo") and config.demo.pools == 3
    env = {"XO_DATADIR": "/env", "XO_LISTEN": "127.0.0.1:1,[::1]:2", "XO_DEMO": "1"}
    config = load_config(config_file=path, environ=env)
    assert config.datadir == Path("/env")
    assert [(a.hostname, a.port) for a in config.listen] == [("127.0.0.1", 1), ("::1", 2)]
    assert config.demo.enabled and config.demo.pools == 3
    config = load_config(config_file=path, environ=env, listen=["127.0.0.1:0"], datadir="/flag")
    assert config.datadir == Path("/flag") and config.listen == (ListenAddress("127.0.0.1", 0),)


def test_config_file_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[logging]\nlevel = 'debug'\n")
    assert load_config(environ={"XO_CONFIG": path}).log_level == "debug"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[http]\nlisten = [{port = 70000}]",
            "http.listen[0].port: must be an integer from 0 to 65535",
        ),
        ("[http]\nlisten = [{port = 80, cert = 'c'}]", "http.listen[0]: cert and key go together"),
        ("[[http.listen]]\nprot = 80", "http.listen[0].prot: unknown setting"),
        ("datadri = 'x'", "datadri: unknown setting"),
        ("[demo]\nenabled = 'yes'", "demo.enabled: must be true or false"),
        ("[limits]\nmax_frame_bytes = -1", "limits.max_frame_bytes: must be an integer"),
        (
            "[authentication]\nmax_token_validity = 'forever'",
            "authentication.max_token_validity: must be a duration",
        ),
        ("[logging]\nlevel = 'loud'", "logging.level: must be one of"),
        ("this is not toml", "invalid TOML"),
    ],
)
def test_one_clear_error_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(config_file=write(tmp_path, text), environ={})
    assert message in str(info.value)


def test_bad_flags_and_env_are_named() -> None:
    with pytest.raises(ConfigError, match="--listen"):
        load_config(environ={}, listen=["nope"])
    with pytest.raises(ConfigError, match="XO_LISTEN"):
        load_config(environ={"XO_LISTEN": "host:port"})
    with pytest.raises(ConfigError, match="XO_DEMO"):
        load_config(environ={"XO_DEMO": "maybe"})
    with pytest.raises(ConfigError, match="config file"):
        load_config(config_file="/nonexistent/xo.toml", environ={})


def test_trusted_origins_are_normalised_origins(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[http]
trusted_origins = ["https://XO.example.net/", "http://10.0.0.5:8080"]
[[http.listen]]
port = 80
""",
    )
    config = load_config(config_file=path, environ={})
    assert config.trusted_origins == frozenset({"https://xo.example.net", "http://10.0.0.5:8080"})
    assert config.listen[0].port == 80


@pytest.mark.parametrize(
    "value", ['"https://a"', '["https://a/path"]', '["ftp://a"]', '["a.example"]', "[1]"]
)
def test_trusted_origins_must_be_origins(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f"[http]\ntrusted_origins = {value}\n")
    with pytest.raises(ConfigError, match=r"^http\.trusted_origins"):
        load_config(config_file=path, environ={})
