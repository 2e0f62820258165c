"""The authentication state of one API connection (XO's ``Connection``: user_ip, user_id,
expiration).

A session starts anonymous; ``session.signIn`` attaches a user (and, for token sign-ins, the
token's expiration: the connection dies with its token). Listeners are told of every change, so
the WebSocket layer starts or stops the ``all`` notification stream of the connection.

:class:`SessionRegistry` knows every live session, so that what ends an authentication (a
deleted user, a deleted token, a changed password) also ends the connections that use it:
:meth:`Session.revoke` signs the session out and marks it revoked, and its connection closes.
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
        self.revoked = False
        self.via_cookie = False  # signed in at the WebSocket upgrade by the `token` cookie
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

    def revoke(self) -> None:
        """The authentication is gone: sign out and let the connection close."""
        self.revoked = True
        self.sign_out()

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener(self)


class SessionRegistry:
    """Every live session (added by the WebSocket layer, removed when its connection ends)."""

    def __init__(self) -> None:
        self._sessions: set[Session] = set()

    def add(self, session: Session) -> None:
        self._sessions.add(session)

    def discard(self, session: Session) -> None:
        self._sessions.discard(session)

    def __len__(self) -> int:
        return len(self._sessions)

    def revoke_user(self, user_id: str, *, keep: Session | None = None) -> int:
        """Revoke every session of ``user_id`` (but ``keep``); returns how many."""
        return self._revoke(lambda s: s.user_id == user_id and s is not keep)

    def revoke_tokens(self, token_ids: set[str] | frozenset[str]) -> int:
        """Revoke every session signed in with one of ``token_ids``."""
        return self._revoke(lambda s: s.token_id is not None and s.token_id in token_ids)

    def _revoke(self, selected: Callable[[Session], bool]) -> int:
        chosen = [s for s in self._sessions if selected(s)]
        for session in chosen:
            session.revoke()
        return len(chosen)
