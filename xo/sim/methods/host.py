"""``host.*`` messages beyond the implicit ones (plugins are in :mod:`xo.sim.methods.plugins`)."""

from __future__ import annotations

import time

from xo.formats.xmlrpc import DateTime
from xo.sim import lifecycle
from xo.sim.errors import XapiFailure
from xo.sim.methods.registry import Call, handler
from xo.sim.methods.vm import pool_migrate


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


@handler("host.evacuate")
async def evacuate(call: Call, host: str, network: str = "OpaqueRef:NULL", batch_size: int = 0) -> None:
    """Live-migrate every guest resident on ``host`` to the other hosts (HOST_NOT_ENOUGH_FREE_MEMORY
    / NO_HOSTS_AVAILABLE when one cannot go anywhere)."""
    call.db.get("host", host)
    guests = [
        vm for vm in call.db.get("host", host)["resident_VMs"]
        if not call.db.get("VM", vm)["is_control_domain"]
    ]  # fmt: skip
    plan: list[tuple[str, str]] = []
    for vm in guests:
        rec = call.db.get("VM", vm)
        target = _other_host(call, vm, rec, host)
        plan.append((vm, target))
    for n, (vm, target) in enumerate(plan):
        await pool_migrate(call, vm, target, {"live": "true"})
        if call.task != "OpaqueRef:NULL":
            call.pool.tasks.set_progress(call.task, (n + 1) / len(plan))


def _other_host(call: Call, vm: str, rec: dict, source: str) -> str:
    best, best_free, error = None, -1, None
    for candidate in call.db.all("host"):
        if candidate == source:
            continue
        try:
            lifecycle.assert_can_run_on(call, vm, rec, candidate)
        except XapiFailure as failure:
            error = failure
            continue
        free = lifecycle.host_free_memory(call, candidate)
        if free > best_free:
            best, best_free = candidate, free
    if best is None:
        raise error or XapiFailure("NO_HOSTS_AVAILABLE")
    return best
