"""`XapiClient`: an async XAPI client for one pool.

- RPC: JSON-RPC v2 first, XML-RPC fallback (xo.xapi.rpc), through one choke point (`_rpc`) that
  bounds concurrency (20 calls in flight, like xen-api), applies the call/event.from timeout
  phase, translates errors and annotates them with ``{method, call_params, duration}``, secrets
  obfuscated.
- Sessions: `login` with 2 params; the pool master is found by following HOST_IS_SLAVE and, when
  a host does not answer, by trying the other known pool members (`set_pool_addresses`).
  SESSION_INVALID re-logs in once and retries; HOST_IS_SLAVE on a call moves to the master.
  `session_generation` increases with every new session so event loops know continuity is lost.
- Tasks: `call_async` = ``Async.<method>`` + wait (xo.xapi.tasks) + ``task.destroy``.
- Streams: `get`, `put`, `connect` (xo.xapi.streams).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from typing import Any

import trio

from . import streams
from .errors import (
    XapiError,
    XapiException,
    XapiProtocolError,
    XapiTimeout,
    XapiUnreachable,
    annotate,
)
from .http11 import HttpTransport
from .origin import Origin
from .record_slices import decode_record_slices
from .rpc import (
    JSON_PATH,
    XML_PATH,
    decode_json_response,
    decode_xml_response,
    encode_json_request,
    encode_xml_request,
    is_json_reply,
    is_xml_reply,
)
from .tasks import TaskEvents, task_outcome
from .timeouts import DEFAULT_TIMEOUTS, Timeouts
from .transport import Request, Response, Transport

log = logging.getLogger(__name__)

# Calls in flight per pool: xen-api's limit; beyond it XAPI queues anyway and timeouts get unfair.
MAX_CONCURRENT_CALLS = 20
# HOST_IS_SLAVE redirects followed during one login: a pool has one master, so more than a few
# hops means hosts disagree (a failover in progress); the caller's backoff retries later.
MAX_REDIRECTS = 4
# Cleanup calls (task.destroy, task.cancel, session.logout) run shielded, bounded by this.
CLEANUP_TIMEOUT = 5.0
# Errors that a new session fixes (on the master for HOST_IS_SLAVE).
RECOVERABLE = frozenset({"SESSION_INVALID", "HOST_IS_SLAVE"})


class XapiClient:
    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        allow_unauthorized: bool = False,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        transport: Transport | None = None,
        max_concurrent_calls: int = MAX_CONCURRENT_CALLS,
    ) -> None:
        self.origin = Origin.parse(url)
        self.username = username
        self._password = password
        self.timeouts = timeouts
        self.transport = transport or HttpTransport(
            allow_unauthorized=allow_unauthorized, timeouts=timeouts
        )
        self.session: str | None = None
        self.session_generation = 0
        self.protocol: str | None = None  # "json" | "xml" once known for the current origin
        self.tasks = TaskEvents()
        self._pool_addresses: list[str] = []
        self._limiter = trio.CapacityLimiter(max_concurrent_calls)
        self._login_lock = trio.Lock()
        self._ids = itertools.count()

    def __repr__(self) -> str:
        return f"<XapiClient {self.username}@{self.origin}>"

    # -- addresses ------------------------------------------------------------------------------

    def set_pool_addresses(self, addresses: Iterable[str]) -> None:
        """Addresses of the pool's hosts (``host.address``): failover candidates for `login`."""
        self._pool_addresses = [a for a in addresses if a]

    @property
    def pool_addresses(self) -> list[str]:
        return list(self._pool_addresses)

    def _candidates(self) -> list[Origin]:
        seen = {self.origin}
        out = [self.origin]
        for address in self._pool_addresses:
            origin = self.origin.with_address(address)
            if origin not in seen:
                seen.add(origin)
                out.append(origin)
        return out

    # -- the choke point ------------------------------------------------------------------------

    async def _rpc(
        self,
        method: str,
        params: list[Any],
        origin: Origin | None = None,
        *,
        decode_json: Callable[[bytes], Any] = decode_json_response,
    ) -> Any:
        """One RPC, no session logic. Every call goes through here."""
        origin = origin or self.origin
        timeout = self.timeouts.event_from if method == "event.from" else self.timeouts.call
        start = trio.current_time()
        try:
            async with self._limiter:
                with trio.fail_after(timeout if timeout is not None else float("inf")):
                    return await self._rpc_once(origin, method, params, decode_json)
        except trio.TooSlowError:
            exc: XapiException = XapiTimeout(f"no answer within {timeout} s", origin.netloc)
        except XapiException as error:
            exc = error
        raise annotate(exc, method, params, self.session, trio.current_time() - start)

    async def _rpc_once(
        self,
        origin: Origin,
        method: str,
        params: list[Any],
        decode_json: Callable[[bytes], Any] = decode_json_response,
    ) -> Any:
        protocol = self.protocol if origin == self.origin else None
        if protocol != "xml":
            body = encode_json_request(method, params, next(self._ids))
            headers = [("Content-Type", "application/json"), ("Accept", "application/json")]
            reply = await self.transport.request(Request("POST", origin, JSON_PATH, headers, body))
            data = await reply.aread()
            if is_json_reply(reply.content_type):
                if origin == self.origin:
                    self.protocol = "json"
                return decode_json(data)
            if protocol == "json":
                raise XapiProtocolError(
                    f"{origin.netloc}: JSON-RPC reply with content-type {reply.content_type!r}"
                )
            if origin == self.origin:
                self.protocol = "xml"
        body = encode_xml_request(method, params)
        reply = await self.transport.request(
            Request("POST", origin, XML_PATH, [("Content-Type", "text/xml")], body)
        )
        data = await reply.aread()
        if not is_xml_reply(reply.content_type):
            raise XapiProtocolError(
                f"{origin.netloc}: HTTP {reply.status} with content-type {reply.content_type!r}"
            )
        value = decode_xml_response(data)
        return value if decode_json is decode_json_response else [value]

    # -- sessions -------------------------------------------------------------------------------

    async def login(self) -> None:
        """Open a session on the pool master, wherever it is now."""
        async with self._login_lock:
            await self._login_locked()

    async def _login_locked(self) -> None:
        queue = self._candidates()
        first_unreachable: XapiUnreachable | None = None
        redirects = 0
        while queue:
            origin = queue.pop(0)
            try:
                session = await self._rpc(
                    "session.login_with_password", [self.username, self._password], origin
                )
            except XapiUnreachable as exc:
                log.info("login on %s failed: %s", origin.netloc, exc)
                first_unreachable = first_unreachable or exc
                continue
            except XapiError as exc:
                if exc.code != "HOST_IS_SLAVE" or not exc.params or redirects >= MAX_REDIRECTS:
                    raise
                redirects += 1
                master = origin.with_address(exc.params[0])
                log.info("%s is a pool member, master is %s", origin.netloc, master.netloc)
                queue = [master, *(o for o in queue if o != master)]
                continue
            if origin != self.origin:
                self.protocol = None
            self.origin = origin
            self.session = str(session)
            self.session_generation += 1
            return
        assert first_unreachable is not None
        raise first_unreachable

    async def recover(self, generation: int, error: XapiError | None = None) -> None:
        """After SESSION_INVALID / HOST_IS_SLAVE (or an HTTP 401: ``error`` None) on a request
        made with session ``generation``: one new session, shared by every caller that saw the
        same failure."""
        async with self._login_lock:
            if self.session_generation != generation:
                return  # another caller already recovered
            if error is not None and error.code == "HOST_IS_SLAVE" and error.params:
                master = self.origin.with_address(error.params[0])
                if master != self.origin:
                    self.origin = master
                    self.protocol = None
            self.session = None
            await self._login_locked()

    async def logout(self) -> None:
        session, self.session = self.session, None
        if session is None:
            return
        with trio.move_on_after(CLEANUP_TIMEOUT, shield=True):
            try:
                await self._rpc("session.logout", [session])
            except XapiException as exc:
                log.debug("logout failed: %s", exc)

    async def aclose(self) -> None:
        await self.logout()
        await self.transport.aclose()

    async def __aenter__(self) -> XapiClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def session_ref(self) -> str:
        """The current session, logging in first if needed."""
        if self.session is None:
            async with self._login_lock:
                if self.session is None:
                    await self._login_locked()
        assert self.session is not None
        return self.session

    # -- calls ----------------------------------------------------------------------------------

    async def call(self, method: str, *params: Any) -> Any:
        """``method(session, *params)``; re-logs in once on SESSION_INVALID / HOST_IS_SLAVE."""
        return await self._call(method, params, decode_json_response)

    async def call_sliced(self, method: str, *params: Any) -> Iterable[dict[str, Any]]:
        """Like `call`, for a method answering a big map (``<class>.get_all_records``): the
        map comes as dicts of a few hundred entries, decoded one at a time as they are iterated
        (:mod:`xo.xapi.record_slices`), so the whole decoded map never exists at once."""
        result: Iterable[dict[str, Any]] = await self._call(method, params, decode_record_slices)
        return result

    async def _call(
        self, method: str, params: tuple[Any, ...], decode_json: Callable[[bytes], Any]
    ) -> Any:
        session = await self.session_ref()
        generation = self.session_generation
        try:
            return await self._rpc(method, [session, *params], decode_json=decode_json)
        except XapiError as error:
            if error.code not in RECOVERABLE:
                raise
            await self.recover(generation, error)
        session = await self.session_ref()
        return await self._rpc(method, [session, *params], decode_json=decode_json)

    async def call_once(self, method: str, *params: Any) -> Any:
        """Like `call` but never retried: a new session is opened on SESSION_INVALID /
        HOST_IS_SLAVE and the error is raised (event.from must not silently change sessions)."""
        session = await self.session_ref()
        generation = self.session_generation
        try:
            return await self._rpc(method, [session, *params])
        except XapiError as error:
            if error.code in RECOVERABLE:
                await self.recover(generation, error)
            raise

    async def call_async(self, method: str, *params: Any) -> Any:
        """``Async.<method>``, wait for its task, return its parsed result (or raise its error).

        If the caller is cancelled while waiting, the task is cancelled on the host; the task is
        destroyed in every case.
        """
        task = str(await self.call(f"Async.{method}", *params))
        try:
            record = await self.tasks.wait(task, self._get_task_record)
        except trio.Cancelled:
            await self._cleanup("task.cancel", task)
            raise
        finally:
            await self._cleanup("task.destroy", task)
        return task_outcome(task, record)

    async def wait_task(self, task: str) -> Any:
        """Wait for an existing task (e.g. one passed to an HTTP handler); returns its result."""
        return task_outcome(task, await self.tasks.wait(task, self._get_task_record))

    async def _get_task_record(self, task: str) -> dict[str, Any]:
        return await self.call("task.get_record", task)

    async def _cleanup(self, method: str, *params: Any) -> None:
        with trio.move_on_after(CLEANUP_TIMEOUT, shield=True):
            try:
                await self.call(method, *params)
            except XapiException as exc:
                log.debug("%s failed: %s", method, exc)

    # -- streams --------------------------------------------------------------------------------

    async def get(self, path: str, query: Mapping[str, str] | None = None) -> Response:
        """GET an HTTP handler (``/export``, ``/export_raw_vdi``...): 2xx response, body unread."""
        return await streams.get(self, path, dict(query or {}))

    async def put(
        self,
        path: str,
        query: Mapping[str, str] | None,
        body: AsyncIterable[bytes] | bytes,
        length: int,
        *,
        probe: bool = True,
    ) -> Response:
        """PUT a streamed body of ``length`` bytes to an HTTP handler (``/import``...)."""
        return await streams.put(self, path, dict(query or {}), body, length, probe=probe)

    async def connect(self, path: str, query: Mapping[str, str] | None = None) -> trio.abc.Stream:
        """HTTP CONNECT tunnel (``/console``): the raw byte stream after the 200."""
        return await streams.connect(self, path, dict(query or {}))
