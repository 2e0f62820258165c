"""What `PoolManager.status` reports for a server entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from xo.xapi.errors import (
    XapiError,
    XapiException,
    XapiProtocolError,
    XapiTimeout,
    XapiUnreachable,
)

from .errors import PoolAlreadyConnected, PoolSyncError

State = Literal["connected", "connecting", "disconnected"]


@dataclass(frozen=True)
class ServerStatus:
    status: State = "disconnected"
    error: dict[str, Any] | None = None  # {"message", "code", "params"}
    pool_id: str | None = None  # pool uuid
    master_id: str | None = None  # master host uuid
    pool_name_label: str | None = None
    pool_name_description: str | None = None
    pool_members_addresses: tuple[str, ...] = ()
    read_only: bool = False


def error_dict(exc: BaseException) -> dict[str, Any]:
    """The error of a failed connection attempt, safe to show (no secrets)."""
    if isinstance(exc, XapiError):
        return {"message": str(exc), "code": exc.code, "params": list(exc.params)}
    if isinstance(exc, XapiTimeout):
        code = "TIMEOUT"
    elif isinstance(exc, XapiUnreachable):
        code = "UNREACHABLE"
    elif isinstance(exc, XapiProtocolError):
        code = "PROTOCOL_ERROR"
    elif isinstance(exc, PoolAlreadyConnected):
        code = "POOL_ALREADY_CONNECTED"
    elif isinstance(exc, PoolSyncError):
        code = "SYNC_ERROR"
    elif isinstance(exc, XapiException):
        code = "XAPI_ERROR"
    else:
        code = type(exc).__name__
    return {"message": str(exc), "code": code, "params": []}
