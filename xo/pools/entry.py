"""A server entry: how to reach one pool (what `server.add` stores)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ServerEntry:
    id: str
    host: str  # "host", "host:port", "https://host[:port]" (https is the default scheme)
    username: str
    password: str = field(repr=False)
    label: str | None = None
    allow_unauthorized: bool = False  # accept self-signed certificates (the norm on hosts)
    read_only: bool = False  # the API refuses writes on this pool's objects
    enabled: bool = True
    http_proxy: str | None = None  # not supported yet: logged and ignored
