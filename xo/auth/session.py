"""The authentication state of one API connection (XO's ``Connection``: user_ip, user_id,
expiration).

A session starts anonymous; ``session.signIn`` attaches a user (and, for token sign-ins, the
token's expiration: the connection dies with its token). Listeners are told of every change, so
the WebSocket layer starts or stops the ``all`` notification stream of the connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Session:
    def __init__(self, address: str | None = None) -> None:
        self.address = address
        self.user_id: str | None = None
        self.token_id: str | None = None
        self.expiration_ms: int | None = None  # None: as long as the connection lives
        self._listeners: list[Callable[[Session], None]] = []

    @property
    def signed_in(self) -> bool:
        return self.user_id is not None

    def expired(self, now_ms: int | None = None) -> bool:
        if self.expiration_ms is None:
            return False
        now = int(time.time() * 1000) if now_ms is None else now_ms
        return self.expiration_ms < now

    def on_change(self, listener: Callable[[Session], None]) -> None:
        self._listeners.append(listener)

    def sign_in(
        self, user_id: str, *, token_id: str | None = None, expiration_ms: int | None = None
    ) -> None:
        self.user_id = user_id
        self.token_id = token_id
        self.expiration_ms = expiration_ms
        self._changed()

    def sign_out(self) -> None:
        self.user_id = None
        self.token_id = None
        self.expiration_ms = None
        self._changed()

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener(self)
