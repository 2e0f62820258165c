"""The HTTP(S) server: a quart-trio app served by hypercorn inside the caller's nursery.

Routes (xo-api.md §1.1):

- WebSocket ``/api/`` and ``/v5/api/`` (the path XO's web UI uses): the JSON-RPC API
  (xo/web/api_connection.py); subprotocol ``msgpack`` switches the connection to binary frames;
- any HTTP method on ``/api/<token>[/<suffix>]`` and ``/v5/api/...``: one-shot URLs registered by
  methods (xo/api/oneshot.py), served before any authentication (the URL is the capability);
- ``GET /signin``, ``POST /signin/local``, ``GET /signout``: browser sign-in with the ``token``
  cookie (xo/web/signin.py, xo/web/cookies.py). An API WebSocket upgrade carrying that cookie
  is signed in with it, and refused (403) unless its ``Origin`` is this server's (or trusted);
- ``GET /``: a plain page saying what this is (the UI is served by a later part).

:meth:`WebServer.serve` reports the bound addresses through ``task_status`` (so ``--listen
127.0.0.1:0`` learns its port); :meth:`WebServer.shutdown` closes every API WebSocket with 1001
("going away") and stops the listener.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from quart import Response, request, websocket
from quart_trio import QuartTrio

from xo.api.dispatcher import Dispatcher
from xo.api.oneshot import HttpRequest, HttpResponse, OneShotUrls
from xo.auth.authenticator import InvalidCredentials, SignInThrottled
from xo.auth.session import Session
from xo.web.api_connection import GOING_AWAY, ApiConnection, ObjectFeed
from xo.web.cookies import cookie_token, same_origin
from xo.web.jsonrpc import choose_codec
from xo.web.signin import SignIn

log = logging.getLogger(__name__)

ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
API_PREFIXES = ("/api/", "/v5/api/")


@dataclass(frozen=True)
class Listen:
    host: str
    port: int
    cert: str | None = None
    key: str | None = None

    @property
    def bind(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class WebLimits:
    # JSON-RPC requests are small: the largest legitimate ones (vm.create with cloud-init
    # config, xo.importConfig goes through $sendTo) stay far below this. 4 MiB bounds what one
    # frame can make the server parse and hold.
    max_frame_bytes: int = 4 * 1024 * 1024
    # Calls one connection may have in flight before its reader waits (back-pressure).
    max_concurrent_calls: int = 64
    # Stream chunks of ndjson/exports are yielded as they come: this is only the read size.
    graceful_timeout: float = 3.0


@dataclass
class WebServer:
    dispatcher: Dispatcher
    urls: OneShotUrls
    listen: list[Listen]
    objects: ObjectFeed | None = None
    limits: WebLimits = field(default_factory=WebLimits)
    # Origins besides this server's own whose pages may open cookie sessions (a reverse proxy's
    # public address, e.g. "https://xo.example.net").
    trusted_origins: frozenset[str] = frozenset()
    connections: set[ApiConnection] = field(default_factory=set)
    _stop: trio.Event = field(default_factory=trio.Event)

    # -- app ------------------------------------------------------------------------------------

    def build_app(self) -> QuartTrio:
        app = QuartTrio("xo")
        # Uploads (VM imports) are gigabytes and take minutes: no size cap, no body or
        # response timeout at this layer (streams have their own limits and owners).
        app.config["MAX_CONTENT_LENGTH"] = None
        app.config["BODY_TIMEOUT"] = None
        app.config["RESPONSE_TIMEOUT"] = None
        app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False

        for prefix in API_PREFIXES:
            app.add_websocket(prefix, f"ws{prefix}", self._api_socket)
            app.add_url_rule(
                f"{prefix}<path:rest>", f"http{prefix}", self._one_shot, methods=ANY_METHOD
            )
        services = self.dispatcher.services
        signin = SignIn(services.auth, services.store, services.sessions, self.trusted_origins)

        async def signin_local() -> Response:
            return await signin.local(_current_request())

        async def signout() -> Response:
            return await signin.signout(_current_request())

        app.add_url_rule("/signin", "signin", signin.form, methods=["GET"])
        app.add_url_rule("/signin/local", "signin_local", signin_local, methods=["POST"])
        app.add_url_rule("/signout", "signout", signout, methods=["GET"])
        app.add_url_rule("/", "index", self._index, methods=["GET"])
        return app

    async def _index(self) -> Response:
        return Response(
            "xo-server: the API is at /api/ (JSON-RPC over WebSocket)\n",
            200,
            {"content-type": "text/plain"},
        )

    async def _api_socket(self) -> Response | None:
        ws: Any = websocket._get_current_object()  # type: ignore[attr-defined]
        client = ws.scope.get("client")
        session = Session(client[0] if client else None)
        token_id = cookie_token(ws.headers.get("cookie"))
        if token_id is not None:
            secure = ws.scheme in ("wss", "https")
            origin, host = ws.headers.get("origin"), ws.headers.get("host")
            if not same_origin(origin, host, secure=secure, trusted=self.trusted_origins):
                log.warning("refused a cross-origin API WebSocket carrying a token cookie")
                return Response(
                    "cross-origin WebSocket refused\n", 403, {"content-type": "text/plain"}
                )
            await self._sign_in_with_cookie(session, token_id)
        codec, subprotocol = choose_codec(list(ws.requested_subprotocols))
        await ws.accept(subprotocol=subprotocol)
        connection = ApiConnection(
            ws,
            self.dispatcher,
            session,
            codec,
            objects=self.objects,
            max_concurrent_calls=self.limits.max_concurrent_calls,
        )
        if self._stop.is_set():
            connection.close(GOING_AWAY)
        sessions = self.dispatcher.services.sessions
        self.connections.add(connection)
        sessions.add(session)
        try:
            await connection.run()
        finally:
            sessions.discard(session)
            self.connections.discard(connection)
        return None

    async def _sign_in_with_cookie(self, session: Session, token_id: str) -> None:
        """A valid cookie signs the connection in; an invalid one leaves it anonymous (the
        client may still sign in with credentials)."""
        try:
            user, token = await self.dispatcher.services.auth.sign_in_with_token(
                token_id, session.address
            )
        except (InvalidCredentials, SignInThrottled):
            return
        session.via_cookie = True
        session.sign_in(user.id, token_id=token.id, expiration_ms=token.expiration)

    async def _one_shot(self, rest: str) -> Response:
        path = "/api/" + rest
        handler = self.urls.take(unquote(path))
        if handler is None:
            return Response("not found\n", 404, {"content-type": "text/plain"})
        req = request._get_current_object()  # type: ignore[attr-defined]

        async def body() -> AsyncIterator[bytes]:
            async for chunk in req.body:
                yield chunk

        http_request = HttpRequest(
            method=req.method,
            path=path,
            query={k: v for k, v in req.args.items()},
            headers={k.lower(): v for k, v in req.headers.items()},
            body=body(),
        )
        try:
            reply: HttpResponse = await handler(http_request)
        except Exception:
            log.exception("one-shot URL handler failed")
            return Response("unknown error", 500, {"content-type": "text/plain"})
        response = Response(reply.body, reply.status, reply.headers)
        response.timeout = None
        return response

    # -- serving --------------------------------------------------------------------------------

    def hypercorn_config(self) -> HypercornConfig:
        config = HypercornConfig()
        secure = [item for item in self.listen if item.cert]
        plain = [item.bind for item in self.listen if not item.cert]
        if secure:
            # hypercorn has one TLS context: every HTTPS listener uses the first cert/key.
            config.bind = [item.bind for item in secure]
            config.insecure_bind = plain
            config.certfile = secure[0].cert
            config.keyfile = secure[0].key
        else:
            config.bind = plain
        config.websocket_max_message_size = self.limits.max_frame_bytes
        config.graceful_timeout = self.limits.graceful_timeout
        config.accesslog = None
        config.errorlog = logging.getLogger("xo.web.hypercorn")
        return config

    async def serve(
        self, *, task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve until :meth:`shutdown`; reports the bound URLs (``http://127.0.0.1:43123``)."""
        await serve(
            self.build_app(),  # type: ignore[arg-type]
            self.hypercorn_config(),
            shutdown_trigger=self._stop.wait,
            task_status=task_status,
        )

    async def shutdown(self) -> None:
        """Close every API WebSocket with 1001 and stop listening."""
        for connection in list(self.connections):
            connection.close(GOING_AWAY)
        self._stop.set()


def _current_request() -> Any:
    return request._get_current_object()  # type: ignore[attr-defined]
