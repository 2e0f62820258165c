"""A tiny in-memory XAPI pool behind `MockTransport`: canned answers, no socket.

Only what the client's unit tests need: login (HOST_IS_SLAVE on members), sessions, a method
table, JSON-RPC v2 or XML-RPC only hosts, hosts that refuse connections. The real simulator is
exercised by tests/integration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from xo.formats import xmlrpc
from xo.xapi import MockTransport, Request, Response, XapiClient


class Fail(Exception):
    def __init__(self, code: str, *params: str) -> None:
        super().__init__(code, *params)
        self.description = [code, *params]


@dataclass
class FakePool:
    hosts: list[str] = field(default_factory=lambda: ["h1:8001", "h2:8002", "h3:8003"])
    master: str = "h1:8001"
    protocol: str = "json"  # "json" or "xml": what the hosts speak
    down: set[str] = field(default_factory=set)
    sessions: set[str] = field(default_factory=set)
    methods: dict[str, Callable[..., Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, list]] = field(default_factory=list)  # (host, method, params)
    password: str = "secret"
    _n: int = 0

    def method(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.methods[name] = fn
            return fn

        return register

    def called(self, method: str) -> list[list]:
        return [params for _, m, params in self.calls if m == method]

    def invalidate_sessions(self) -> None:
        self.sessions.clear()

    async def dispatch(self, host: str, method: str, params: list) -> Any:
        if method == "session.login_with_password":
            if host != self.master:
                raise Fail("HOST_IS_SLAVE", self.master)
            if params[1] != self.password:
                raise Fail("SESSION_AUTHENTICATION_FAILED", params[0], "bad password")
            self._n += 1
            ref = f"OpaqueRef:session-{self._n}"
            self.sessions.add(ref)
            return ref
        if method == "system.listMethods":
            return [f"{c}.get_all_records" for c in ("pool", "host", "VM", "task")]
        if not params or params[0] not in self.sessions:
            raise Fail("SESSION_INVALID", params[0] if params else "")
        if host != self.master:
            raise Fail("HOST_IS_SLAVE", self.master)
        fn = self.methods.get(method)
        if fn is None:
            raise Fail("MESSAGE_METHOD_UNKNOWN", method)
        result = fn(*params[1:])
        if hasattr(result, "__await__"):
            result = await result
        return result

    async def handle(self, request: Request) -> Response:
        host = request.origin.netloc
        if host in self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        assert isinstance(request.body, bytes)
        if request.target == "/jsonrpc":
            if self.protocol != "json":
                return Response(404, [("content-type", "text/html")], b"<html>not found</html>")
            message = orjson.loads(request.body)
            assert message["jsonrpc"] == "2.0"
            method, params = message["method"], message["params"]
            self.calls.append((host, method, params))
            try:
                result = await self.dispatch(host, method, params)
            except Fail as fail:
                reply = {
                    "jsonrpc": "2.0",
                    "error": {
                        "code": 1,
                        "message": fail.description[0],
                        "data": fail.description[1:],
                    },
                    "id": message["id"],
                }
            else:
                reply = {"jsonrpc": "2.0", "result": result, "id": message["id"]}
            return Response(200, [("content-type", "application/json")], orjson.dumps(reply))
        method, params = xmlrpc.loads_request(request.body)
        self.calls.append((host, method, params))
        try:
            result = await self.dispatch(host, method, params)
        except Fail as fail:
            body = xmlrpc.dumps_response_failure(fail.description)
        else:
            if method == "system.listMethods":
                body = xmlrpc.dumps_raw_response(result)
            else:
                body = xmlrpc.dumps_response_success(result)
        return Response(200, [("content-type", "text/xml")], body)

    def client(self, url: str | None = None, **kwargs: Any) -> XapiClient:
        transport = MockTransport(self.handle)
        return XapiClient(
            url or f"http://{self.master}", "root", self.password, transport=transport, **kwargs
        )
