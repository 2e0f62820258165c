"""xo-server's API over real sockets: raw WebSocket frames as XO's clients send them.

The app runs in-process on 127.0.0.1:0 with a temporary data directory and no pools; expected
frames are the ones captured from the real xo-server (xo-observed.md §2).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url
from xo_harness import start_app

from xo.app import Ready, XoServerApp

ADMIN = {"email": "admin@admin.net", "password": "admin"}


class Server:
    def __init__(self, app: XoServerApp, ready: Ready) -> None:
        self.app = app
        self.ready = ready
        self.url = ready.url
        self.ws_url = ready.url.replace("http://", "ws://") + "/api/"


@pytest.fixture
async def xo_server(tmp_path: Path) -> AsyncIterator[Server]:
    async with trio.open_nursery() as nursery:
        app, ready = await start_app(nursery, tmp_path)
        yield Server(app, ready)
        app.stop()


async def exchange(ws: WebSocketConnection, frame: str) -> str:
    await ws.send_message(frame)
    with trio.fail_after(5):
        reply = await ws.get_message()
    assert isinstance(reply, str)
    return reply


def request(msg_id: Any, method: str, params: Any = None) -> str:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message)


async def test_the_first_contact_of_every_client(xo_server: Server) -> None:
    async with open_websocket_url(xo_server.ws_url) as ws:
        assert (
            await exchange(ws, request(3, "system.getVersion", {}))
            == '{"id":3,"jsonrpc":"2.0","result":"0.1"}'
        )
        reply = json.loads(await exchange(ws, request(1, "session.signIn", ADMIN)))
        user = reply["result"]
        assert list(reply) == ["id", "jsonrpc", "result"]
        assert list(user) == ["id", "email", "groups", "permission", "preferences"]
        assert user["email"] == "admin@admin.net" and user["permission"] == "admin"
        assert user["groups"] == [] and user["preferences"] == {}
        assert json.loads(await exchange(ws, request("s", "session.getUser", {}))) == {
            "id": "s",
            "jsonrpc": "2.0",
            "result": user,
        }
        assert (
            await exchange(ws, request(12, "session.signOut", {}))
            == '{"id":12,"jsonrpc":"2.0","result":true}'
        )
        assert await exchange(ws, request(13, "user.getAll", {})) == (
            '{"error":{"message":"not enough permissions","code":2,'
            '"data":{"permission":"admin","object":{}}},"id":13,"jsonrpc":"2.0"}'
        )
        assert await exchange(ws, request(14, "token.create", {})) == (
            '{"error":{"message":"not enough permissions","code":2,"data":{"object":{}}},'
            '"id":14,"jsonrpc":"2.0"}'
        )


async def test_errors_are_xos_frames(xo_server: Server) -> None:
    async with open_websocket_url(xo_server.ws_url) as ws:
        assert await exchange(ws, request(2, "foo.bar", {})) == (
            '{"error":{"code":-32601,"data":"foo.bar","message":"method not found: foo.bar"},'
            '"id":2,"jsonrpc":"2.0"}'
        )
    async with open_websocket_url(xo_server.ws_url) as ws:
        assert (
            await exchange(ws, request(6, "session.signIn", {"token": "bogus"}))
            == '{"error":{"message":"invalid credentials","code":3},"id":6,"jsonrpc":"2.0"}'
        )
    async with open_websocket_url(xo_server.ws_url) as ws:
        await exchange(
            ws, request(1, "session.signIn", {"username": "admin@admin.net", "password": "admin"})
        )
        assert await exchange(ws, request(3, "user.create", {"password": "x"})) == (
            '{"error":{"message":"invalid parameters","code":10,"data":{"errors":[{"instancePath":"",'
            '"schemaPath":"#/required","keyword":"required","params":{"missingProperty":"email"},'
            '"message":"must have required property \'email\'"}]}},"id":3,"jsonrpc":"2.0"}'
        )
        reply = json.loads(
            await exchange(ws, request(4, "user.create", {"email": 5, "password": "x"}))
        )
        assert reply["error"]["data"]["errors"] == [
            {
                "instancePath": "/email",
                "schemaPath": "#/properties/email/type",
                "keyword": "type",
                "params": {"type": "string"},
                "message": "must be string",
            }
        ]
        assert await exchange(ws, request(7, "user.delete", {"id": "nope"})) == (
            '{"error":{"message":"no such user nope","code":1,"data":{"id":"nope","type":"user"}},'
            '"id":7,"jsonrpc":"2.0"}'
        )
    # Last: a failed attempt throttles the account for 2 s (XO's rule).
    async with open_websocket_url(xo_server.ws_url) as ws:
        bad = {"email": "admin@admin.net", "password": "nope"}
        assert (
            await exchange(ws, request(5, "session.signIn", bad))
            == '{"error":{"message":"invalid credentials","code":3},"id":5,"jsonrpc":"2.0"}'
        )


async def test_protocol_edge_cases(xo_server: Server) -> None:
    async with open_websocket_url(xo_server.ws_url) as ws:
        assert (
            await exchange(ws, request(1, "system.getVersion", []))
            == '{"id":1,"jsonrpc":"2.0","result":"0.1"}'
        )
        assert (
            await exchange(ws, request(2, "system.getVersion"))
            == '{"id":2,"jsonrpc":"2.0","result":"0.1"}'
        )
        # A notification is not answered: the next frame answers the request after it.
        await ws.send_message('{"jsonrpc":"2.0","method":"system.getVersion"}')
        assert await exchange(ws, request(-9007199254740991, "system.getVersion")) == (
            '{"id":-9007199254740991,"jsonrpc":"2.0","result":"0.1"}'
        )
        assert (
            await exchange(ws, "{not json")
            == '{"error":{"code":-32700,"message":"invalid JSON"},"id":null,"jsonrpc":"2.0"}'
        )
        batch = json.loads(await exchange(ws, "[" + request(9, "system.getVersion") + "]"))
        assert batch["error"]["code"] == -32600 and batch["id"] is None
        legacy = json.loads(await exchange(ws, '{"id":8,"method":"system.getVersion","params":{}}'))
        assert legacy["error"]["code"] == -32600 and legacy["id"] == 8


async def test_a_thousand_malformed_frames_leave_the_server_serving(xo_server: Server) -> None:
    garbage = [
        "{",
        "[]",
        '"x"',
        "null",
        '{"jsonrpc":"2.0","id":1}',
        "\x00\x01",
        "[" * 3000,
        "1e999999",
    ]
    async with (
        open_websocket_url(xo_server.ws_url) as hostile,
        open_websocket_url(xo_server.ws_url) as other,
    ):
        for i in range(1000):
            await hostile.send_message(garbage[i % len(garbage)])
        with trio.fail_after(20):
            for _ in range(1000):
                reply = json.loads(await hostile.get_message())
                assert reply["error"]["code"] in (-32700, -32600)
        assert (
            await exchange(other, request(1, "system.getVersion"))
            == '{"id":1,"jsonrpc":"2.0","result":"0.1"}'
        )
        assert (
            await exchange(hostile, request(2, "system.getVersion"))
            == '{"id":2,"jsonrpc":"2.0","result":"0.1"}'
        )


async def test_oversized_frames_close_only_that_connection(xo_server: Server) -> None:
    limit = xo_server.app.config.limits.max_frame_bytes
    async with open_websocket_url(xo_server.ws_url) as other:
        async with open_websocket_url(xo_server.ws_url, max_message_size=limit * 2) as big:
            with pytest.raises(ConnectionClosed):
                await big.send_message(request(1, "system.getVersion", {"x": "a" * (limit + 1)}))
                with trio.fail_after(5):
                    await big.get_message()
            assert big.closed is not None and big.closed.code == 1009
        assert (
            await exchange(other, request(1, "system.getVersion"))
            == '{"id":1,"jsonrpc":"2.0","result":"0.1"}'
        )


async def test_tokens_sign_in_and_die_with_deletion(xo_server: Server) -> None:
    async with open_websocket_url(xo_server.ws_url) as ws:
        await exchange(ws, request(1, "session.signIn", ADMIN))
        token = json.loads(await exchange(ws, request(2, "token.create", {"expiresIn": "1 hour"})))[
            "result"
        ]
        assert isinstance(token, str) and len(token) == 43
        bad = json.loads(await exchange(ws, request(3, "token.create", {"expiresIn": 10})))
        assert bad["error"]["code"] == 10
    async with open_websocket_url(xo_server.ws_url) as ws:
        user = json.loads(await exchange(ws, request(1, "session.signIn", {"token": token})))[
            "result"
        ]
        assert user["email"] == "admin@admin.net"
        tokens = json.loads(await exchange(ws, request(2, "user.getAuthenticationTokens")))[
            "result"
        ]
        assert [t["id"] for t in tokens] == [token]
        assert "127.0.0.1" in tokens[0]["last_uses"]
        assert (
            json.loads(await exchange(ws, request(3, "token.deleteOwn", {"tokens": [token]})))[
                "result"
            ]
            is True
        )
    async with open_websocket_url(xo_server.ws_url) as ws:
        assert (
            json.loads(await exchange(ws, request(1, "session.signIn", {"token": token})))["error"][
                "code"
            ]
            == 3
        )


async def test_introspection(xo_server: Server) -> None:
    async with open_websocket_url(xo_server.ws_url) as ws:
        info = json.loads(await exchange(ws, request(1, "system.getMethodsInfo")))["result"]
        assert info["server.remove"]["permission"] == "admin"
        assert info["session.signIn"]["permission"] is None
        assert "permission" not in info["token.create"]
        names = json.loads(await exchange(ws, request(2, "system.listMethods")))["result"]
        assert set(names) == set(info)
        signature = json.loads(
            await exchange(ws, request(3, "system.methodSignature", {"method": "user.delete"}))
        )
        assert signature["result"][0]["params"] == {"id": {"type": "string"}}


async def test_ndjson_get_from_streams_over_http(
    xo_server: Server, http_request: Callable[..., Any]
) -> None:
    async with open_websocket_url(xo_server.ws_url) as ws:
        await exchange(ws, request(1, "session.signIn", ADMIN))
        assert json.loads(await exchange(ws, request(2, "xo.getAllObjects")))["result"] == {}
        result = json.loads(await exchange(ws, request(3, "xo.getAllObjects", {"ndjson": True})))[
            "result"
        ]
    path = result["$getFrom"]
    assert list(result) == ["$getFrom"] and path.startswith("/api/")
    reply = await http_request("GET", xo_server.url + path)
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.body == b""  # no pools: no objects
    assert (await http_request("GET", xo_server.url + path)).status == 404  # one-shot
    async with open_websocket_url(xo_server.ws_url) as ws:
        await exchange(ws, request(1, "session.signIn", ADMIN))
        result = json.loads(await exchange(ws, request(3, "xo.getAllObjects", {"ndjson": True})))[
            "result"
        ]
    assert (await http_request("POST", xo_server.url + "/v5" + result["$getFrom"])).status == 200


async def test_msgpack_subprotocol_carries_the_same_messages(xo_server: Server) -> None:
    async with open_websocket_url(xo_server.ws_url, subprotocols=["msgpack"]) as ws:
        assert ws.subprotocol == "msgpack"
        await ws.send_message(
            msgpack.packb({"jsonrpc": "2.0", "id": 1, "method": "session.signIn", "params": ADMIN})
        )
        with trio.fail_after(5):
            reply = msgpack.unpackb(await ws.get_message())
        assert reply["id"] == 1 and reply["result"]["email"] == "admin@admin.net"


async def test_v5_path_and_graceful_stop_closes_with_1001(xo_server: Server) -> None:
    async with open_websocket_url(xo_server.url.replace("http", "ws") + "/v5/api/") as ws:
        assert (
            await exchange(ws, request(1, "system.getVersion"))
            == '{"id":1,"jsonrpc":"2.0","result":"0.1"}'
        )
        xo_server.app.stop()
        with trio.fail_after(5), pytest.raises(ConnectionClosed):
            await ws.get_message()
        assert ws.closed is not None and ws.closed.code == 1001
