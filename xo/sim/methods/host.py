"""``host.*`` messages beyond the implicit ones (plugins are in :mod:`xo.sim.methods.plugins`)."""

from __future__ import annotations

import time

from xo.formats.xmlrpc import DateTime
from xo.sim.errors import XapiFailure
from xo.sim.methods.registry import Call, handler


@handler("host.get_servertime", "host.get_server_localtime")
async def get_servertime(call: Call, host: str) -> DateTime:
    call.db.get("host", host)
    return DateTime.from_timestamp(time.time())


@handler("host.disable")
async def disable(call: Call, host: str) -> None:
    call.db.get("host", host)
    call.db.update("host", host, enabled=False)


@handler("host.enable")
async def enable(call: Call, host: str) -> None:
    call.db.get("host", host)
    call.db.update("host", host, enabled=True)


def _require_disabled(call: Call, host: str) -> None:
    if call.db.get("host", host)["enabled"]:
        raise XapiFailure("HOST_NOT_DISABLED")
    for vm in call.db.get("host", host)["resident_VMs"]:
        if not call.db.get("VM", vm)["is_control_domain"]:
            raise XapiFailure("HOST_IN_USE", host, "VM", vm)


@handler("host.reboot")
async def reboot(call: Call, host: str) -> None:
    _require_disabled(call, host)
    await call.work(call.pool.timing.delay("vm_reboot"))
    rec = call.db.get("host", host)
    call.db.update("host", host, enabled=True, other_config={**rec["other_config"], "boot_time": f"{time.time():.0f}."})


@handler("host.shutdown")
async def shutdown(call: Call, host: str) -> None:
    _require_disabled(call, host)
    await call.work(call.pool.timing.delay("vm_shutdown"))
    call.pool.set_host_live(host, False)


@handler("host.restart_agent")
async def restart_agent(call: Call, host: str) -> None:
    rec = call.db.get("host", host)
    call.db.update("host", host, other_config={**rec["other_config"], "agent_start_time": f"{time.time():.0f}."})
