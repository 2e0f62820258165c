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
from xo.auth.rights import AclRights
from xo.auth.session import Session, SessionRegistry
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
    rights: AclRights = None  # type: ignore[assignment]  # built from `objects` when not given
    sessions: SessionRegistry = field(default_factory=SessionRegistry)

    def __post_init__(self) -> None:
        if self.rights is None:
            feed = self.objects if hasattr(self.objects, "subscribe") else None
            self.rights = AclRights(feed)  # type: ignore[arg-type]

    async def rights_changed(self) -> None:
        """Call after a write that may change rights (users, groups, ACLs): reload them."""
        await self.rights.reload(self.store)


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

    def visible_objects(self) -> Iterable[dict[str, Any]]:
        """The objects the caller may view (all of them for admins), in the store's order."""
        objects = self.services.objects
        if objects is None or self.user is None:
            return ()
        if self.user.is_admin:
            return objects.values()
        return self.services.rights.visible(self.user.id, objects.values())

    def require_user(self) -> User:
        if self.user is None:
            from xo.api.errors import unauthorized

            raise unauthorized()
        return self.user
