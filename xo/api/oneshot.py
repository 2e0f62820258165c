"""One-shot HTTP URLs: what ``$getFrom`` / ``$sendTo`` results point at.

A method registers a handler and returns ``{"$getFrom": path}`` (download) or
``{"$sendTo": path}`` (upload); ``path`` is ``/api/<token><suffix>`` where ``<token>`` is 32
random bytes, base64url. The URL is the capability: no cookie or sign-in is checked when it is
hit (as XO, so xo-cli works with plain HTTP). Any HTTP method is accepted; the handler is removed
on the first hit. Unlike XO, an unclaimed URL expires (``ttl``, 10 minutes by default: enough for
a client to follow the URL it was just given, short enough that forgotten ones do not pile up);
``on_expire`` lets its owner release what it prepared.

The types here are framework-free, so methods never import the web layer: xo/web turns
requests into :class:`HttpRequest` and serves :class:`HttpResponse`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from xo.auth.tokens import new_token_id

log = logging.getLogger(__name__)

DEFAULT_TTL = 600.0
MAX_PENDING = 10_000  # a bound on unclaimed URLs (each holds a closure), oldest evicted first


async def _no_body() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover


@dataclass
class HttpRequest:
    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body: AsyncIterator[bytes] = field(default_factory=_no_body)


@dataclass
class HttpResponse:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | AsyncIterable[bytes] = b""

    @classmethod
    def json(cls, value: Any, status: int = 200) -> HttpResponse:
        return cls(status, {"content-type": "application/json"}, json.dumps(value).encode())

    @classmethod
    def rpc_result(cls, value: Any) -> HttpResponse:
        """An upload's success reply: a JSON-RPC response envelope with id 0, as XO answers."""
        return cls.json({"id": 0, "jsonrpc": "2.0", "result": value})


HttpHandler = Callable[[HttpRequest], Awaitable[HttpResponse]]


@dataclass
class _Entry:
    handler: HttpHandler
    expires_at: float
    on_expire: Callable[[], None] | None


class OneShotUrls:
    def __init__(
        self, *, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        self._purge()
        return len(self._entries)

    def register(
        self,
        handler: HttpHandler,
        *,
        suffix: str = "",
        ttl: float | None = None,
        on_expire: Callable[[], None] | None = None,
    ) -> str:
        """Register ``handler`` and return its path, ``/api/<token><suffix>``."""
        if suffix and not suffix.startswith("/"):
            suffix = "/" + suffix
        self._purge()
        while len(self._entries) >= MAX_PENDING:
            self._expire(next(iter(self._entries)))
        path = f"/api/{new_token_id()}{suffix}"
        self._entries[path] = _Entry(
            handler, self._clock() + (self.ttl if ttl is None else ttl), on_expire
        )
        return path

    def take(self, path: str) -> HttpHandler | None:
        """The handler of ``path`` (removing it), or None if unknown or expired."""
        self._purge()
        entry = self._entries.pop(path, None)
        return None if entry is None else entry.handler

    def _purge(self) -> None:
        now = self._clock()
        for path in [p for p, e in self._entries.items() if e.expires_at <= now]:
            self._expire(path)

    def _expire(self, path: str) -> None:
        entry = self._entries.pop(path)
        if entry.on_expire is not None:
            try:
                entry.on_expire()
            except Exception:
                log.exception("one-shot URL expiry callback failed")
