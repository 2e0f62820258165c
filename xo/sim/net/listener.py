"""A TCP (optionally TLS) listener that can be stopped and restarted on the same port.

A stopped simulated host must look dead from the outside: its listening socket is closed (new
connections are refused) and every open connection is closed. Restarting rebinds the very same
port, so clients that remember the host's address find it again.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable

import trio

log = logging.getLogger(__name__)

ConnectionHandler = Callable[[trio.abc.Stream], Awaitable[None]]

# How long a TLS client may take to complete its handshake before we drop it. A real client
# needs milliseconds on loopback; the limit only stops silent sockets from pinning a task.
TLS_HANDSHAKE_TIMEOUT = 30.0
# Delay between attempts to reopen a restarted host's port while another process holds it.
REBIND_RETRY = 0.5


class RestartableListener:
    """Owns the listening socket and the connections it accepted; see the module docstring."""

    def __init__(
        self,
        handler: ConnectionHandler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        prebound: list[trio.SocketListener] | None = None,
    ) -> None:
        """`prebound`: sockets already listening on `host:port`, served by the first run."""
        self._handler = handler
        self._prebound = prebound
        self._host = host
        self.port = port
        self._ssl_context = ssl_context
        self._running = True
        self._scope: trio.CancelScope | None = None
        self._changed = trio.Event()
        self._listening = trio.Event()

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; reports the bound port through `task_status` once listening."""
        reported = False
        while True:
            while not self._running:
                await self._changed.wait()
            try:
                if self._prebound is not None:
                    listeners, self._prebound = self._prebound, None
                else:
                    listeners = await trio.open_tcp_listeners(self.port, host=self._host)
            except OSError:
                if not reported:
                    raise  # the first bind: the caller asked for a port it cannot have
                # Restarting on our own port failed (someone grabbed it meanwhile): keep trying
                # rather than taking the whole simulator down.
                log.warning("cannot listen again on %s:%s, retrying", self._host, self.port)
                await trio.sleep(REBIND_RETRY)
                continue
            self.port = listeners[0].socket.getsockname()[1]
            with trio.CancelScope() as scope:
                self._scope = scope
                self._listening.set()
                if not reported:
                    task_status.started(self.port)
                    reported = True
                # serve_listeners closes the listeners, and the handler nursery closes every
                # accepted stream, when this scope is cancelled.
                await trio.serve_listeners(self._serve_one, listeners)
            self._scope = None
            self._listening = trio.Event()
            self._notify()

    def request_stop(self) -> None:
        """Start closing the listener and its connections (done at the next checkpoint)."""
        self._running = False
        if self._scope is not None:
            self._scope.cancel()
        self._notify()

    def request_start(self) -> None:
        """Ask for the listener to be reopened on the same port."""
        self._running = True
        self._notify()

    async def wait_stopped(self) -> None:
        while self._listening.is_set():
            await self._changed.wait()

    async def wait_listening(self) -> None:
        await self._listening.wait()

    async def stop(self) -> None:
        """Close the listening socket and all open connections; returns once they are closed."""
        self.request_stop()
        await self.wait_stopped()

    async def start(self) -> None:
        """Listen again on the same port; returns once connections are accepted."""
        self.request_start()
        await self.wait_listening()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def _serve_one(self, stream: trio.SocketStream) -> None:
        if self._ssl_context is None:
            await self._handler(stream)
            return
        tls = trio.SSLStream(stream, self._ssl_context, server_side=True, https_compatible=True)
        try:
            with trio.fail_after(TLS_HANDSHAKE_TIMEOUT):
                await tls.do_handshake()
        except (trio.BrokenResourceError, trio.TooSlowError):
            return  # not a TLS client, or a silent one: nothing to serve
        await self._handler(tls)
