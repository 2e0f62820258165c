"""ApiConnection over an in-memory frame socket (the transport seam), with the real dispatcher,
store and ObjectStore: notifications per connection, slow clients, expired token sessions."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.lowlevel

from xo.api.context import Services
from xo.api.dispatcher import Dispatcher
from xo.api.namespaces import build_registry
from xo.api.oneshot import OneShotUrls
from xo.auth.authenticator import Authenticator
from xo.auth.session import Session
from xo.objects.store import ObjectStore
from xo.store.sqlite import SqliteStore
from xo.web.api_connection import ApiConnection
from xo.web.jsonrpc import JSON


class MemorySocket:
    """Frames in through a channel, frames out to a list; ``stalled`` blocks every send."""

    def __init__(self) -> None:
        self.to_server, self._incoming = trio.open_memory_channel[str](math.inf)
        self.sent: list[dict[str, Any]] = []
        self.closed_with: int | None = None
        self.stalled = False
        self._changed = trio.Condition()

    async def receive(self) -> str | bytes:
        return await self._incoming.receive()

    async def send(self, data: str | bytes) -> None:
        if self.stalled:
            await trio.sleep_forever()
        async with self._changed:
            self.sent.append(json.loads(data))
            self._changed.notify_all()

    async def close(self, code: int) -> None:
        async with self._changed:
            self.closed_with = code
            self._changed.notify_all()

    async def wait_for(self, predicate: Any) -> dict[str, Any]:
        async with self._changed:
            while True:
                for message in self.sent:
                    if predicate(message):
                        return message
                await self._changed.wait()

    async def call(self, msg_id: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
        await self.to_server.send(
            json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        )
        return await self.wait_for(lambda m: m.get("id") == msg_id)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[Dispatcher, ObjectStore]]:
    store = await SqliteStore.open(tmp_path / "db.sqlite3")
    auth = Authenticator(store)
    await auth.ensure_default_admin()
    objects = ObjectStore()
    registry = build_registry()
    yield Dispatcher(registry, Services(store, auth, OneShotUrls(), registry, objects)), objects
    await store.aclose()


def vm(name: str) -> dict[str, Any]:
    return {"id": "vm-1", "type": "VM", "name_label": name, "_xapiRef": "OpaqueRef:1"}


async def signed_in(nursery: trio.Nursery, env: Any) -> MemorySocket:
    dispatcher, objects = env
    socket = MemorySocket()
    connection = ApiConnection(socket, dispatcher, Session("127.0.0.1"), JSON, objects=objects)
    nursery.start_soon(connection.run)
    with trio.fail_after(5):
        reply = await socket.call(
            1, "session.signIn", {"email": "admin@admin.net", "password": "admin"}
        )
    assert "result" in reply
    return socket


async def test_a_stalled_client_does_not_delay_the_others(env: Any) -> None:
    _, objects = env
    async with trio.open_nursery() as nursery:
        slow = await signed_in(nursery, env)
        fast = await signed_in(nursery, env)
        slow.stalled = True
        for i in range(1000):
            objects.replace_pool("pool", {"vm-1": vm(f"name {i}")})
            await trio.lowlevel.checkpoint()
        with trio.fail_after(2):
            await fast.wait_for(
                lambda m: (
                    m.get("method") == "all"
                    and m["params"]["items"].get("vm-1", {}).get("name_label") == "name 999"
                )
            )
        # The fast client still gets answers while the slow one is stuck.
        with trio.fail_after(2):
            assert (await fast.call(2, "system.getVersion", {}))["result"] == "0.1"
        nursery.cancel_scope.cancel()


async def test_notifications_stop_after_sign_out_and_exit_items_are_zero(env: Any) -> None:
    _, objects = env
    async with trio.open_nursery() as nursery:
        socket = await signed_in(nursery, env)
        objects.replace_pool("pool", {"vm-1": vm("a")})
        with trio.fail_after(2):
            await socket.wait_for(lambda m: m.get("params", {}).get("type") == "enter")
        objects.remove_pool("pool")
        with trio.fail_after(2):
            exit_message = await socket.wait_for(
                lambda m: m.get("params", {}).get("type") == "exit"
            )
        assert exit_message == {
            "jsonrpc": "2.0",
            "method": "all",
            "params": {"type": "exit", "items": {"vm-1": 0}},
        }
        with trio.fail_after(2):
            await socket.call(2, "session.signOut", {})
        count = len(socket.sent)
        objects.replace_pool("pool", {"vm-1": vm("b")})
        with trio.fail_after(2):
            await socket.call(3, "system.getVersion", {})
        assert [m.get("id") for m in socket.sent[count:]] == [3]  # no notification in between
        nursery.cancel_scope.cancel()


async def test_an_expired_token_session_closes_the_connection(env: Any) -> None:
    dispatcher, objects = env
    session = Session("127.0.0.1")
    user = await dispatcher.services.store.get_user_by_email("admin@admin.net")
    session.sign_in(user.id, token_id="t", expiration_ms=1)  # long expired
    socket = MemorySocket()
    connection = ApiConnection(socket, dispatcher, session, JSON, objects=objects)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(connection.run)
            await socket.to_server.send('{"jsonrpc":"2.0","id":1,"method":"system.getVersion"}')
    assert socket.closed_with == 1008
    assert socket.sent == []
