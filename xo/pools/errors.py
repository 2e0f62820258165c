"""Errors of the pool manager (XAPI errors come from xo.xapi.errors)."""

from __future__ import annotations


class PoolError(Exception):
    """Base of pool manager errors."""


class PoolAlreadyConnected(PoolError):
    """Another server entry already holds a connection to the same pool."""

    def __init__(self, pool_id: str, server_id: str) -> None:
        super().__init__("this pool is already connected")
        self.pool_id = pool_id
        self.server_id = server_id


class PoolNotConnected(PoolError):
    """No connected server for that pool (unknown, disconnected or still connecting)."""

    def __init__(self, pool_id: str) -> None:
        super().__init__(f"pool {pool_id} is not connected")
        self.pool_id = pool_id


class PoolSyncError(PoolError):
    """Turning the pool's records or events into objects failed (a bug, or records we cannot
    read): the connection reports it, backs off and reloads instead of taking xo-server down."""

    def __init__(self, server_id: str, stage: str) -> None:
        super().__init__(f"could not process the pool's {stage}")
        self.server_id = server_id
        self.stage = stage
