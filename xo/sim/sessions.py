"""API sessions of one pool (not DB rows: they are not part of events)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from xo.sim.errors import XapiFailure
from xo.sim.schema import IdSource


@dataclass
class Session:
    ref: str
    uuid: str
    username: str
    host: str
    originator: str = ""
    created: float = field(default_factory=time.time)
    last_active: float = field(default_factory=time.time)


class Sessions:
    def __init__(self, ids: IdSource) -> None:
        self._ids = ids
        self._sessions: dict[str, Session] = {}

    def open(self, username: str, host: str, originator: str = "") -> Session:
        session = Session(self._ids.ref(), self._ids.uuid(), username, host, originator)
        self._sessions[session.ref] = session
        return session

    def check(self, ref: object) -> Session:
        session = self._sessions.get(ref) if isinstance(ref, str) else None
        if session is None:
            raise XapiFailure("SESSION_INVALID", ref if isinstance(ref, str) else str(ref))
        session.last_active = time.time()
        return session

    def get(self, ref: str) -> Session | None:
        return self._sessions.get(ref)

    def close(self, ref: str) -> None:
        self._sessions.pop(ref, None)

    def clear(self) -> list[str]:
        refs = list(self._sessions)
        self._sessions.clear()
        return refs

    def __len__(self) -> int:
        return len(self._sessions)
