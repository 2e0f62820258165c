"""The `http.trusted_origins` setting reaches the web server: a page served from a reverse proxy's
public origin may open a cookie session; any other foreign origin is still refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import trio
from trio_websocket import ConnectionRejected, open_websocket_url

from xo.app import XoServerApp
from xo.config import load_config

PROXY = "https://xo.example.net"


async def get_user(url: str, cookie: str, origin: str) -> dict[str, Any]:
    headers = [("cookie", cookie), ("origin", origin)]
    async with open_websocket_url(url, extra_headers=headers) as ws:
        await ws.send_message(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "session.getUser"}))
        return json.loads(await ws.get_message())


async def test_a_trusted_origin_may_use_the_cookie_and_others_may_not(
    tmp_path: Path, http_request: Any
) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'[http]\ntrusted_origins = ["{PROXY}/"]\n')
    config = load_config(
        config_file=str(config_file), environ={}, listen=["127.0.0.1:0"], datadir=str(tmp_path)
    )
    app = XoServerApp(config, announce=lambda line: None)
    async with trio.open_nursery() as nursery:
        ready = await nursery.start(app.run)
        signed_in = await http_request(
            "POST",
            ready.url + "/signin/local",
            body=urlencode({"username": "admin@admin.net", "password": "admin"}).encode(),
            headers={"content-type": "application/x-www-form-urlencoded", "origin": PROXY},
        )
        assert signed_in.status == 303
        cookie = signed_in.headers["set-cookie"].split(";")[0]
        api = ready.url.replace("http://", "ws://") + "/api/"
        reply = await get_user(api, cookie, PROXY)
        assert reply["result"]["email"] == "admin@admin.net"
        with pytest.raises(ConnectionRejected) as rejected:
            await get_user(api, cookie, "https://evil.example.net")
        assert rejected.value.status_code == 403
        app.stop()
