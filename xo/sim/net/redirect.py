"""`302 Found` to the host that can serve a request better (xapi `Importexport.return_302_redirect`).

xapi redirects disk and VM transfers to a host that sees the storage (a local SR is only
reachable from its own host) and console or RRD requests to the host a VM runs on. The Location
keeps the path and query; XO follows it by hand (it probes with an empty PUT first).
"""

from __future__ import annotations

from typing import Any

from xo.sim.net.http import Request
from xo.sim.schema import NULL_REF


def sr_host(pool: Any, sr_ref: str) -> str | None:
    """The only host that sees `sr_ref` when it is local (not shared), else None."""
    sr = pool.db.get("SR", sr_ref)
    if sr.get("shared"):
        return None
    hosts = {pool.db.get("PBD", pbd).get("host") for pbd in sr.get("PBDs", [])}
    hosts.discard(None)
    hosts.discard(NULL_REF)
    return next(iter(hosts)) if len(hosts) == 1 else None


def redirect_target(pool: Any, host_ref: str, owner_ref: str | None) -> str | None:
    """Where to redirect (``ip:port``) when `owner_ref` is another live host, else None.

    xapi writes the owner's bare address (its port is 443); the simulator adds the port its
    hosts share so that any client can follow the Location.
    """
    if owner_ref is None or owner_ref == host_ref or owner_ref in pool.faults.host_down:
        return None
    return pool.host_netloc(owner_ref) or None


async def redirect(request: Request, address: str) -> None:
    location = f"{request.scheme}://{address}{request.target}"
    await request.respond(302, [("Location", location), ("Connection", "close")])
