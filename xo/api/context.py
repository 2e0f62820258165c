"""What a method body gets: the services it may use and who is calling.

:class:`Services` lists xo-server's parts explicitly (no god object reaching everything): each
method module uses the few it needs. Parts owned by other packages are typed by the small
protocols below, which their real classes satisfy (xo.objects.store.ObjectStore,
xo.pools.manager.PoolManager).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from xo.api.oneshot import OneShotUrls
from xo.auth.authenticator import Authenticator
from xo.auth.session import Session
from xo.store.interface import Store
from xo.store.records import User

if TYPE_CHECKING:
    from xo.api.registry import ApiMethod, Registry


class ObjectLookup(Protocol):
    """The part of the ObjectStore the API core needs."""

    def get(self, id: str) -> dict[str, Any] | None: ...
    def get_by_ref(self, opaque_ref: str) -> dict[str, Any] | None: ...
    def values(self) -> Iterable[dict[str, Any]]: ...
    def __len__(self) -> int: ...


@dataclass(frozen=True)
class ServerInfo:
    """What ``system.*`` reports about this server."""

    version: str = "0.1.0"
    started_at: float = field(default_factory=time.time)


@dataclass
class Services:
    store: Store
    auth: Authenticator
    urls: OneShotUrls
    registry: Registry
    objects: ObjectLookup | None = None
    pools: Any = None  # xo.pools.manager.PoolManager, when running with pools
    info: ServerInfo = field(default_factory=ServerInfo)


@dataclass
class CallContext:
    services: Services
    session: Session
    user: User | None
    method: ApiMethod

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def is_admin(self) -> bool:
        return self.user is not None and self.user.is_admin

    def require_user(self) -> User:
        if self.user is None:
            from xo.api.errors import unauthorized

            raise unauthorized()
        return self.user
