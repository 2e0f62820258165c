"""xo-server in-process with a simulated pool connected, and a raw JSON-RPC WebSocket client.

Shared by the API method suites (test_api_*.py); import it as ``from xo_harness import ...``
(pytest puts this directory on ``sys.path``). Everything is real: the app listens on
127.0.0.1:0, its PoolManager talks to xapi-sim over sockets, the client speaks XO's frames.

    async with open_xo(sim_pool, tmp_path) as xo:
        vm = xo.one(type="VM", power_state="Halted")
        assert await xo.client.result("vm.start", {"id": vm["id"]}) is True
        assert xo.record("VM", vm)["power_state"] == "Running"        # the pool, at once
        await xo.wait(lambda: xo.objects.get(vm["id"])["power_state"] == "Running")  # events

- ``xo.client``: ``call`` (the raw answer), ``result`` (asserts success), ``error`` (asserts
  failure, returns the ``error`` member), ``wait_for(predicate, timeout=5)`` on ``all``
  notifications;
- ``xo.objects``: the app's ObjectStore; ``xo.find(**fields)`` / ``xo.one(**fields)`` filter it;
  ``await xo.wait(predicate)`` waits (5 s guard) until ``predicate()`` is truthy, re-checking
  after every store change, and returns its value;
- ``xo.db``: the simulator's database (``xo.record("VM", obj)`` is the XAPI record of an XO
  object).

``open_admin_client(tmp_path)`` gives the app with no pool and the signed-in client, for the
suites that register pools themselves (test_server_pools.py); ``start_app(nursery, tmp_path)``
only starts the app (test_server_api.py speaks raw frames to it).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from xo.app import Ready, XoServerApp
from xo.config import load_config
from xo.objects.store import ObjectStore
from xo.sim.serve import RunningPool

ADMIN = {"email": "admin@admin.net", "password": "admin"}
T = TypeVar("T")


class XoClient:
    """JSON-RPC over one WebSocket; answers matched by id, notifications kept in order."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self.next_id = 0
        self.answers: dict[int, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self._arrived = trio.Condition()

    async def pump(self) -> None:
        while True:
            message = json.loads(await self.ws.get_message())
            async with self._arrived:
                if "id" in message:
                    self.answers[message["id"]] = message
                else:
                    self.notifications.append(message["params"])
                self._arrived.notify_all()

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.next_id += 1
        msg_id = self.next_id
        frame = {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params or {}}
        await self.ws.send_message(json.dumps(frame))
        with trio.fail_after(30):
            async with self._arrived:
                while msg_id not in self.answers:
                    await self._arrived.wait()
        return self.answers.pop(msg_id)

    async def result(self, method: str, params: dict[str, Any] | None = None) -> Any:
        answer = await self.call(method, params)
        assert "result" in answer, answer
        return answer["result"]

    async def error(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = await self.call(method, params)
        assert "error" in answer, answer
        return answer["error"]

    async def wait_for(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float = 5,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """The first notification (arrived or to come) matching ``predicate``."""
        seen = 0
        with trio.fail_after(timeout):
            async with self._arrived:
                while True:
                    for params in self.notifications[seen:]:
                        if predicate(params):
                            return params
                    seen = len(self.notifications)
                    await self._arrived.wait()


class Xo:
    def __init__(
        self, app: XoServerApp, client: XoClient, pool: RunningPool, server_id: str
    ) -> None:
        self.app = app
        self.client = client
        self.pool = pool
        self.server_id = server_id

    @property
    def objects(self) -> ObjectStore:
        assert self.app.objects is not None
        return self.app.objects

    @property
    def db(self) -> Any:
        return self.pool.pool.db

    def find(self, **fields: Any) -> list[dict[str, Any]]:
        return [
            obj
            for obj in self.objects.values()
            if all(obj.get(key) == value for key, value in fields.items())
        ]

    def one(self, **fields: Any) -> dict[str, Any]:
        found = self.find(**fields)
        assert found, f"no object with {fields}"
        return sorted(found, key=lambda obj: obj["id"])[0]

    def record(self, cls: str, obj: dict[str, Any]) -> dict[str, Any]:
        """The simulator's record of XO object ``obj``."""
        return self.db.get(cls, obj["_xapiRef"])

    async def wait(self, predicate: Callable[[], T], timeout: float = 5) -> T:  # noqa: ASYNC109
        with trio.fail_after(timeout), self.objects.subscribe() as subscription:
            while True:
                value = predicate()
                if value:
                    return value
                await subscription.next_batch()


async def start_app(nursery: trio.Nursery, tmp_path: Path) -> tuple[XoServerApp, Ready]:
    """xo-server in ``nursery``: on 127.0.0.1:0, data in ``tmp_path``, no config from the
    environment, nothing printed."""
    config = load_config(environ={}, listen=["127.0.0.1:0"], datadir=str(tmp_path / "xo-data"))
    app = XoServerApp(config, announce=lambda line: None)
    return app, await nursery.start(app.run)


@asynccontextmanager
async def open_admin_client(tmp_path: Path) -> AsyncIterator[tuple[XoServerApp, XoClient]]:
    """The app without pools, and a client signed in as admin."""
    async with trio.open_nursery() as nursery:
        app, ready = await start_app(nursery, tmp_path)
        async with open_websocket_url(ready.url.replace("http://", "ws://") + "/api/") as ws:
            client = XoClient(ws)
            nursery.start_soon(client.pump)
            await client.result("session.signIn", ADMIN)
            yield app, client
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def open_xo(pool: RunningPool, tmp_path: Path) -> AsyncIterator[Xo]:
    """The app with ``pool`` registered and loaded, and a client signed in as admin."""
    async with open_admin_client(tmp_path) as (app, client):
        server_id = await client.result(
            "server.add",
            {"host": pool.master_url, "username": pool.username, "password": pool.password},
        )
        assert app.pools is not None
        with trio.fail_after(10):
            await app.pools.wait_status(server_id, lambda s: s.status == "connected")
        xo = Xo(app, client, pool, server_id)
        await xo.wait(lambda: xo.find(type="pool"))
        yield xo
