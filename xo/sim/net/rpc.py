"""XML-RPC and JSON-RPC endpoints of a simulated host (reference xapi.md §1).

Bytes are decoded here, the call is delegated to `SimPool.rpc(method, params, on_host=...)`, and
its result or `XapiFailure` is encoded back exactly as xapi does: HTTP 200 for API errors, HTTP
500 only for a body that cannot be parsed, `text/xml` / `application/json` content types, CORS
header, `system.listMethods` without the Status wrapper.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import trio

from xo.formats import xmlrpc
from xo.sim.errors import XapiFailure
from xo.sim.net.http import HttpError, Request
from xo.sim.net.server import CloseConnection
from xo.sim.net.shared_encoding import SharedEncodings

log = logging.getLogger(__name__)

# xapi refuses RPC bodies over 300 KiB (`http_limit_max_rpc_size` in xapi-consts/constants.ml).
RPC_BODY_LIMIT = 300 * 1024
# Calls that block for a long time waiting for changes: a "cut event connections" fault drops
# the connections carrying them.
LONG_POLL_METHODS = frozenset({"event.from", "event.next"})

CORS_HEADERS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Headers", "X-Requested-With"),
]


class LongPollCalls:
    """The long-poll calls in flight on one host, so a fault can cut their connections."""

    def __init__(self) -> None:
        self._scopes: set[trio.CancelScope] = set()
        self._added = trio.Event()

    def __len__(self) -> int:
        return len(self._scopes)

    async def wait_for_call(self) -> None:
        """Return once at least one long-poll call is in flight."""
        while not self._scopes:
            await self._added.wait()

    @contextmanager
    def track(self) -> Iterator[trio.CancelScope]:
        scope = trio.CancelScope()
        self._scopes.add(scope)
        self._added.set()
        self._added = trio.Event()
        try:
            with scope:
                yield scope
        finally:
            self._scopes.discard(scope)

    def cut_all(self) -> int:
        """Cancel every tracked call (its connection is then closed without an answer)."""
        for scope in list(self._scopes):
            scope.cancel()
        return len(self._scopes)


class RpcEndpoints:
    """The RPC handlers of one host of one pool."""

    def __init__(self, pool: Any, host_ref: str, long_polls: LongPollCalls) -> None:
        self._pool = pool
        self._host_ref = host_ref
        self._long_polls = long_polls
        self._shared = SharedEncodings()

    async def xmlrpc(self, request: Request) -> None:
        body = await request.read_body(RPC_BODY_LIMIT)
        try:
            method, params = xmlrpc.loads_request(body)
        except xmlrpc.XmlRpcParseError as exc:
            raise HttpError(500, f"cannot parse the XML-RPC request: {exc}") from exc
        headers = [("Content-Type", "text/xml"), *CORS_HEADERS]
        try:
            value = await self._call(method, params)
        except XapiFailure as failure:
            payload = xmlrpc.dumps_response_failure(failure.description)
        else:
            if method == "system.listMethods":
                payload = xmlrpc.dumps_raw_response(value)
            else:
                value = self._share_events(method, value, "xml", _xml_fragment)
                await respond_pieces(request, headers, xmlrpc.iter_response_success(value))
                return
        await request.respond(200, headers, payload)

    async def jsonrpc(self, request: Request) -> None:
        body = await request.read_body(RPC_BODY_LIMIT)
        try:
            call = orjson.loads(body)
            method, params, call_id, v2 = _parse_json_call(call)
        except (orjson.JSONDecodeError, ValueError) as exc:
            raise HttpError(500, f"cannot parse the JSON-RPC request: {exc}") from exc
        try:
            value = await self._call(method, params)
        except XapiFailure as failure:
            reply = _json_failure(failure.description, call_id, v2)
        else:
            value = self._share_events(method, value, "json", _json_fragment)
            reply = (
                {"jsonrpc": "2.0", "result": value, "id": call_id}
                if v2
                else {
                    "result": value,
                    "error": None,
                    "id": call_id,
                }
            )
        payload = orjson.dumps(reply, default=_json_default, option=orjson.OPT_PASSTHROUGH_DATETIME)
        await request.respond(200, [("Content-Type", "application/json"), *CORS_HEADERS], payload)

    def _share_events(self, method: str, value: Any, kind: str, encode: Any) -> Any:
        """An event.from answer with its events list encoded once for every subscriber."""
        if method != "event.from" or type(value) is not dict:
            return value
        events = value.get("events")
        if type(events) is not list:
            return value
        return {**value, "events": self._shared.get(kind, events, encode)}

    async def options(self, request: Request) -> None:
        """CORS preflight, as xapi answers it on the RPC paths."""
        await request.read_body(RPC_BODY_LIMIT)
        await request.respond(
            200,
            [
                *CORS_HEADERS,
                ("Access-Control-Allow-Methods", "POST, GET, OPTIONS"),
                ("Access-Control-Allow-Headers", "Content-Type, X-Requested-With"),
            ],
        )

    async def _call(self, method: str, params: list) -> Any:
        latency = self._pool.faults.latency
        if latency:
            await trio.sleep(latency)
        if method not in LONG_POLL_METHODS:
            return await self._invoke(method, params)
        with self._long_polls.track() as scope:
            return await self._invoke(method, params)
        # Only reached when the scope was cancelled by a "cut event connections" fault.
        assert scope.cancelled_caught
        raise CloseConnection

    async def _invoke(self, method: str, params: list) -> Any:
        try:
            return await self._pool.rpc(method, params, on_host=self._host_ref)
        except XapiFailure:
            raise
        except Exception as exc:
            # The brain must answer every call; if it does not, the client still gets xapi's
            # shape for an unexpected server exception instead of a dropped connection.
            log.exception("%s failed unexpectedly", method)
            raise XapiFailure("INTERNAL_ERROR", f"{type(exc).__name__}: {exc}") from exc


async def respond_pieces(
    request: Request, headers: list[tuple[str, str]], pieces: Iterable[bytes]
) -> None:
    """A 200 answer made of pieces: with a Content-Length when there is only one (every usual
    answer, as xapi sends them), else sent while they are produced (chunked for HTTP/1.1) so
    that a huge answer is never held whole."""
    iterator = iter(pieces)
    first = next(iterator, b"")
    second = next(iterator, None)
    if second is None:
        await request.respond(200, headers, first)
        return
    await request.start_response(200, headers)
    await request.send(first)
    await request.send(second)
    for piece in iterator:
        await request.send(piece)
    await request.end()


def _xml_fragment(value: Any) -> xmlrpc.Encoded:
    return xmlrpc.Encoded(xmlrpc.encode_value(value))


def _json_fragment(value: Any) -> orjson.Fragment:
    return orjson.Fragment(
        orjson.dumps(value, default=_json_default, option=orjson.OPT_PASSTHROUGH_DATETIME)
    )


def _parse_json_call(call: Any) -> tuple[str, list, Any, bool]:
    if not isinstance(call, dict):
        raise ValueError("a JSON-RPC call must be an object")
    method = call.get("method")
    params = call.get("params", [])
    if not isinstance(method, str):
        raise ValueError("missing method")
    if "id" not in call:
        raise ValueError("missing id")
    if not isinstance(params, list):
        params = [params]
    return method, params, call["id"], call.get("jsonrpc") == "2.0"


def _json_failure(description: list[str], call_id: Any, v2: bool) -> dict:
    if not v2:
        return {"result": None, "error": description, "id": call_id}
    code, *data = description or [""]
    return {
        "jsonrpc": "2.0",
        "error": {"code": 1, "message": code, "data": data},
        "id": call_id,
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return xmlrpc.format_datetime(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
