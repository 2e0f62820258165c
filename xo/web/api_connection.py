"""One API WebSocket connection: read frames, run calls, send answers and ``all`` notifications.

The connection owns a nursery: each request runs in it as its own task (so a slow
``vm.start`` never holds up a ``session.getUser``; answers go out as they complete and clients
match them by id), at most ``max_concurrent_calls`` at once (beyond that the reader stops
reading: back-pressure, not buffering). Writes are serialized by a lock. Once signed in, the
connection subscribes to the ObjectStore and sends each batch of changes as one ``enter`` then
one ``exit`` notification, filtered by the user's rights (:mod:`xo.web.object_view`: exactly
what the user may view, updated live when its rights change or objects move); the
subscription's coalescing queue means a slow client costs memory per distinct object, never per
event, and only ever delays itself. Signing out (or a token-based session expiring) stops the
stream; a revoked session (user deleted, token deleted, password changed) closes the
connection with 1008. Closing (client gone, or server shutting down with 1001) cancels
everything the connection started.

The socket is abstracted as :class:`FrameSocket`, so this runs over quart's WebSocket in
production and over anything with ``receive/send/close`` in tests.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import trio

from xo.api.dispatcher import Dispatcher
from xo.api.errors import JsonRpcError, XoApiError, unknown_error
from xo.auth.graph import GraphWatch
from xo.auth.rights import AclRights
from xo.auth.session import Session
from xo.web.jsonrpc import (
    Invalid,
    JsonCodec,
    MsgpackCodec,
    Request,
    error_message,
    result_message,
)
from xo.web.notification_frames import FRAMES
from xo.web.object_view import Changes, ObjectView

log = logging.getLogger(__name__)

GOING_AWAY = 1001
POLICY_VIOLATION = 1008


class FrameSocket(Protocol):
    async def receive(self) -> str | bytes: ...
    async def send(self, data: str | bytes) -> None: ...
    async def close(self, code: int) -> None: ...


class ObjectFeed(Protocol):
    """What a connection needs of the ObjectStore: a change subscription."""

    def subscribe(self) -> Any: ...


class ApiConnection:
    def __init__(
        self,
        socket: FrameSocket,
        dispatcher: Dispatcher,
        session: Session,
        codec: JsonCodec | MsgpackCodec,
        *,
        objects: ObjectFeed | None = None,
        max_concurrent_calls: int = 64,
        rights: AclRights | None = None,
    ) -> None:
        self.socket = socket
        self.dispatcher = dispatcher
        self.session = session
        self.codec = codec
        self.objects = objects
        self.rights = dispatcher.services.rights if rights is None else rights
        self._calls = trio.Semaphore(max_concurrent_calls)
        self._send_lock = trio.Lock()
        self._nursery: trio.Nursery | None = None
        self._feed_scope: trio.CancelScope | None = None
        self._close_code: int | None = None
        self._closing = trio.Event()
        session.on_change(self._session_changed)

    # -- life cycle -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve until the client goes away or :meth:`close` is called."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                if self.session.signed_in:
                    self._start_feed()
                nursery.start_soon(self._close_when_asked, nursery.cancel_scope)
                await self._read_loop()
                if not self._closing.is_set():
                    nursery.cancel_scope.cancel()  # the client went away
                # else: _close_when_asked sends the close frame, then cancels
        finally:
            self._nursery = None

    def close(self, code: int = GOING_AWAY) -> None:
        """Ask the connection to close with ``code`` (e.g. 1001 when the server stops)."""
        if self._close_code is None:
            self._close_code = code
        self._closing.set()

    async def _close_when_asked(self, scope: trio.CancelScope) -> None:
        await self._closing.wait()
        with trio.move_on_after(1) as cleanup:
            cleanup.shield = True
            async with self._send_lock:
                await self.socket.close(self._close_code or GOING_AWAY)
        scope.cancel()

    async def _read_loop(self) -> None:
        while True:
            frame = await self.socket.receive()
            if self.session.expired():
                log.info("closing a connection whose token expired")
                self.close(POLICY_VIOLATION)
                return
            message = self.codec.decode(frame)
            if isinstance(message, Request):
                await self._calls.acquire()
                assert self._nursery is not None
                self._nursery.start_soon(self._serve, message)
            elif isinstance(message, Invalid):
                await self._send(error_message(message.id, message.error.to_wire()))
            # Notifications from clients are ignored, as XO does.

    # -- calls ----------------------------------------------------------------------------------

    async def _serve(self, request: Request) -> None:
        try:
            try:
                result = await self.dispatcher.call(self.session, request.method, request.params)
            except (XoApiError, JsonRpcError) as exc:
                await self._send(error_message(request.id, exc.to_wire()))
                return
            try:
                frame = self.codec.encode(result_message(request.id, result))
            except (TypeError, ValueError) as exc:
                log.error("%s returned a value that cannot be encoded: %s", request.method, exc)
                frame = self.codec.encode(error_message(request.id, unknown_error().to_wire()))
            await self._send_frame(frame)
        finally:
            self._calls.release()

    async def _send(self, message: dict[str, Any]) -> None:
        await self._send_frame(self.codec.encode(message))

    async def _send_frame(self, frame: str | bytes) -> None:
        async with self._send_lock:
            await self.socket.send(frame)

    # -- notifications --------------------------------------------------------------------------

    def _session_changed(self, session: Session) -> None:
        if session.revoked:
            log.info("closing a connection whose authentication was revoked")
            self.close(POLICY_VIOLATION)
        if self._feed_scope is not None:
            self._feed_scope.cancel()
            self._feed_scope = None
        if session.signed_in and self._nursery is not None:
            self._start_feed()

    def _start_feed(self) -> None:
        if self.objects is None or self._nursery is None or self.session.user_id is None:
            return
        scope = trio.CancelScope()
        self._feed_scope = scope
        self._nursery.start_soon(self._feed, scope, self.session.user_id)

    async def _feed(self, scope: trio.CancelScope, user_id: str) -> None:
        assert self.objects is not None
        rights = self.rights
        with scope:
            await rights.ensure_loaded(self.dispatcher.services.store)
            graph = rights.graph
            if graph is None:
                raise RuntimeError("the object feed needs rights built on the same objects")
            view = ObjectView(rights, self.objects, user_id)
            watch: GraphWatch | None = None  # admins need none (no evaluation, no index)
            try:
                with self.objects.subscribe() as subscription:
                    generation = rights.generation(user_id)
                    if not view.is_admin:
                        await rights.prepare(user_id)
                        watch = graph.watch()
                    view.start()
                    async with trio.open_nursery() as helpers:
                        waiter = _BatchOrRightsChange(subscription, rights, user_id)
                        helpers.start_soon(waiter.cancel_on_rights_change, generation)
                        while True:
                            batch = await waiter.next(generation)
                            if self.session.expired():
                                self.close(POLICY_VIOLATION)
                                helpers.cancel_scope.cancel()
                                return
                            changes = Changes()
                            if rights.generation(user_id) != generation:
                                generation = rights.generation(user_id)
                                if watch is None and not view.is_admin:
                                    watch = graph.watch()  # before known is spelled out
                                exited = batch.exit if batch is not None else ()
                                changes = view.refresh_all(exited)
                            if batch is not None:
                                if watch is None and not view.is_admin:
                                    watch = graph.watch()
                                dirty = watch.take() if watch is not None else ()
                                changes.then(
                                    await view.apply_in_slices(batch.enter, batch.exit, dirty)
                                )
                            await self._notify(changes)
            finally:
                if watch is not None:
                    watch.close()

    async def _notify(self, changes: Changes) -> None:
        # every connection seeing the same batch sends the same bytes: encoded once
        if changes.enter:
            await self._send_frame(FRAMES.enter(self.codec, changes.enter))
        if changes.exit:
            await self._send_frame(FRAMES.exit(self.codec, changes.exit))


class _BatchOrRightsChange:
    """Waits for the next batch of store changes, or for a change of the user's rights, with
    one long-lived helper task (not two new tasks per batch)."""

    def __init__(self, subscription: Any, rights: AclRights, user_id: str) -> None:
        self.subscription = subscription
        self.rights = rights
        self.user_id = user_id
        self._waiting: trio.CancelScope | None = None

    async def cancel_on_rights_change(self, generation: int) -> None:
        while True:
            await self.rights.wait_changed(self.user_id, generation)
            generation = self.rights.generation(self.user_id)
            if self._waiting is not None:
                self._waiting.cancel()

    async def next(self, generation: int) -> Any:
        """The next batch, or None when the user's rights differ from ``generation`` first
        (a batch already pending is taken along)."""
        subscription = self.subscription
        if self.rights.generation(self.user_id) != generation:
            return subscription.get_batch_nowait() if subscription.pending_count else None
        with trio.CancelScope() as waiting:
            self._waiting = waiting
            try:
                return await subscription.next_batch()
            finally:
                self._waiting = None
        return subscription.get_batch_nowait() if subscription.pending_count else None
