"""``pool.*`` messages beyond the implicit ones."""

from __future__ import annotations

from xo.sim.methods.registry import Call, handler


@handler("pool.certificate_list")
async def certificate_list(call: Call) -> list[str]:
    return sorted(call.pool.pool_certificates)


@handler("pool.certificate_install")
async def certificate_install(call: Call, name: str, cert: str) -> None:
    call.pool.pool_certificates[name] = cert


@handler("pool.certificate_uninstall")
async def certificate_uninstall(call: Call, name: str) -> None:
    call.pool.pool_certificates.pop(name, None)


@handler("pool.certificate_sync")
async def certificate_sync(call: Call) -> None:
    return None


@handler("pool.designate_new_master")
async def designate_new_master(call: Call, host: str) -> None:
    call.db.get("host", host)
    call.pool.set_master(host)
