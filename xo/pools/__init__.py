"""Connected pools: one `PoolConnection` per server entry, managed by `PoolManager`."""

from .backoff import Backoff
from .connection import PoolConnection
from .entry import ServerEntry
from .errors import PoolAlreadyConnected, PoolError, PoolNotConnected, PoolSyncError
from .manager import PoolManager
from .status import ServerStatus

__all__ = [
    "Backoff",
    "PoolAlreadyConnected",
    "PoolConnection",
    "PoolError",
    "PoolManager",
    "PoolNotConnected",
    "PoolSyncError",
    "ServerEntry",
    "ServerStatus",
]
