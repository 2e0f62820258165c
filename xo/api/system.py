"""``system.*``: introspection (from the registry) and server facts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from xo.api.context import CallContext
from xo.api.errors import no_such_object
from xo.api.registry import Namespace

api = Namespace("system")


@api.method(
    permission=None, params={}, description="returns the signatures of all available API methods"
)
async def getMethodsInfo(ctx: CallContext) -> dict[str, Any]:
    return ctx.services.registry.methods_info()


@api.method(permission=None, params={}, description="returns the name of all available API methods")
async def listMethods(ctx: CallContext) -> list[str]:
    return ctx.services.registry.names()


@api.method(
    permission=None,
    params={"method": {"type": "string"}},
    description="returns the signature of an API method",
)
async def methodSignature(ctx: CallContext, *, method: str) -> list[dict[str, Any]]:
    found = ctx.services.registry.get(method)
    if found is None:
        raise no_such_object(method, "method")
    info = found.info()
    return [
        {
            "name": method,
            "description": info.get("description"),
            "params": info["params"],
            "permission": info.get("permission"),
        }
    ]


@api.method(permission=None, params={}, description="API version (unchanged since 2015)")
async def getVersion(ctx: CallContext) -> str:
    return "0.1"


@api.method(permission=None, params={}, description="xo-server version")
async def getServerVersion(ctx: CallContext) -> str:
    return ctx.services.info.version


def server_timezone() -> str:
    """The IANA name of the server's time zone (``UTC`` when it cannot be told)."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz and "/" in tz and not tz.startswith("/"):
        return tz
    try:
        name = Path("/etc/timezone").read_text().strip()
        if name:
            return name
    except OSError:
        pass
    try:
        target = str(Path("/etc/localtime").resolve())
    except OSError:
        return "UTC"
    marker = "zoneinfo/"
    return target.split(marker, 1)[1] if marker in target else "UTC"


@api.method(params={}, description="the time zone of the server")
async def getServerTimezone(ctx: CallContext) -> str:
    return server_timezone()
