"""xo-server's API on a real socket over an ObjectStore the test feeds (no pools), and a raw
client that keeps every message in arrival order. For the ACL, users and fuzz suites.

Users are made in the store with one precomputed argon2 hash and signed in with tokens, so a
hypothesis example costs milliseconds, not a password hash per user.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from xo.api.context import Services
from xo.api.dispatcher import Dispatcher
from xo.api.namespaces import build_registry
from xo.api.oneshot import OneShotUrls
from xo.auth.authenticator import Authenticator
from xo.auth.passwords import hash_password_sync
from xo.objects.store import ObjectStore
from xo.store.sqlite import SqliteStore
from xo.web.server import Listen, WebServer

PASSWORD = "correct horse"
PASSWORD_HASH = hash_password_sync(PASSWORD)


class Client:
    """JSON-RPC over one WebSocket; ``log`` holds every message received, in order."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self.next_id = 0
        self.log: list[dict[str, Any]] = []
        self.closed: int | None = None
        self._arrived = trio.Condition()

    async def pump(self) -> None:
        try:
            while True:
                message = json.loads(await self.ws.get_message())
                async with self._arrived:
                    self.log.append(message)
                    self._arrived.notify_all()
        except ConnectionClosed as closed:
            async with self._arrived:
                self.closed = closed.reason.code
                self._arrived.notify_all()

    async def wait(self, predicate: Callable[[], Any], timeout: float = 10) -> Any:  # noqa: ASYNC109
        with trio.fail_after(timeout):
            async with self._arrived:
                while not (value := predicate()):
                    await self._arrived.wait()
                return value

    async def send(self, frame: str | bytes) -> None:
        await self.ws.send_message(frame)

    async def call(self, method: str, params: Any = None) -> dict[str, Any]:
        self.next_id += 1
        msg_id = self.next_id
        await self.send(
            json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params or {}})
        )
        return await self.wait(lambda: next((m for m in self.log if m.get("id") == msg_id), None))

    async def result(self, method: str, params: Any = None) -> Any:
        answer = await self.call(method, params)
        assert "result" in answer, (method, answer)
        return answer["result"]

    async def error(self, method: str, params: Any = None) -> dict[str, Any]:
        answer = await self.call(method, params)
        assert "error" in answer, (method, answer)
        return answer["error"]

    def view_after(self, answer: dict[str, Any]) -> dict[str, Any]:
        """The objects a client knows: ``answer`` (a getAllObjects result) plus the ``all``
        notifications received after it."""
        view = dict(answer["result"])
        for message in self.log[self.log.index(answer) + 1 :]:
            if message.get("method") != "all":
                continue
            params = message["params"]
            if params["type"] == "enter":
                view.update(params["items"])
            else:
                for object_id in params["items"]:
                    view.pop(object_id, None)
        return view

    def entered(self) -> set[str]:
        return {
            object_id
            for m in self.log
            if m.get("method") == "all" and m["params"]["type"] == "enter"
            for object_id in m["params"]["items"]
        }


@dataclass
class Server:
    url: str
    store: SqliteStore
    auth: Authenticator
    objects: ObjectStore
    services: Services
    web: WebServer
    nursery: trio.Nursery

    @asynccontextmanager
    async def client(self, **headers: str) -> AsyncIterator[Client]:
        async with open_websocket_url(
            self.url.replace("http://", "ws://") + "/api/",
            extra_headers=list(headers.items()),
        ) as ws:
            client = Client(ws)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client.pump)
                yield client
                nursery.cancel_scope.cancel()

    async def user(self, email: str, permission: str = "none") -> tuple[str, str]:
        """A new user (in the store) and a token of it: (user id, token id)."""
        user = await self.store.create_user(email, PASSWORD_HASH, permission)
        await self.services.rights_changed()
        token = await self.auth.create_token(user)
        return user.id, token.id

    @asynccontextmanager
    async def signed_in(self, token: str) -> AsyncIterator[Client]:
        async with self.client() as client:
            await client.result("session.signIn", {"token": token})
            yield client


@asynccontextmanager
async def open_server(
    objects: ObjectStore | None = None, **web_options: Any
) -> AsyncIterator[Server]:
    store = await SqliteStore.open(":memory:")
    try:
        auth = Authenticator(store)
        objects = objects if objects is not None else ObjectStore()
        registry = build_registry()
        urls = OneShotUrls()
        services = Services(store, auth, urls, registry, objects)
        web = WebServer(
            Dispatcher(registry, services), urls, [Listen("127.0.0.1", 0)], objects, **web_options
        )
        async with trio.open_nursery() as nursery:
            bound = await nursery.start(web.serve)
            try:
                yield Server(bound[0], store, auth, objects, services, web, nursery)
            finally:
                services.rights.close()
                await web.shutdown()
                nursery.cancel_scope.cancel()
    finally:
        await store.aclose()
