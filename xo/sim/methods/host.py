"""``host.*`` messages beyond the implicit ones (plugins are in :mod:`xo.sim.methods.plugins`)."""

from __future__ import annotations

import time

import trio

from xo.formats.xmlrpc import DateTime
from xo.sim import lifecycle
from xo.sim.errors import XapiFailure
from xo.sim.methods.registry import Call, handler
from xo.sim.methods.vm import pool_migrate

# A host shutting itself down answers the call first (seconds on real hardware).
SELF_SHUTDOWN_DELAY = 0.2


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
    _booted(call, host)


def _booted(call: Call, host: str) -> None:
    """Enabled again with a new ``other_config.boot_time`` (whole seconds, as xapi writes it;
    always later than the previous one, even for two boots within a second)."""
    rec = call.db.get("host", host)
    previous = rec["other_config"].get("boot_time", "0").rstrip(".") or "0"
    boot = max(int(time.time()), int(float(previous)) + 1)
    call.db.update("host", host, enabled=True, other_config={**rec["other_config"], "boot_time": f"{boot}."})


@handler("host.shutdown")
async def shutdown(call: Call, host: str) -> None:
    """The host goes down: not live, and its listener closes (connection refused) once the
    answer is on its way when the call arrived on that very host."""
    _require_disabled(call, host)
    await call.work(call.pool.timing.delay("vm_shutdown"))
    call.pool.set_host_live(host, False)
    if host != call.host:
        call.pool.faults.stop_host(host)
    else:
        call.pool.spawn(_stop_later, call, host)


async def _stop_later(call: Call, host: str) -> None:
    await trio.sleep(SELF_SHUTDOWN_DELAY)
    if call.db.get("host_metrics", call.db.get("host", host)["metrics"])["live"] is False:
        call.pool.faults.stop_host(host)


@handler("host.power_on")
async def power_on(call: Call, host: str) -> None:
    """Boot a halted host through its power-on mode: it listens again, live and enabled."""
    rec = call.db.get("host", host)
    if rec["power_on_mode"] == "":
        raise XapiFailure("HOST_POWER_ON_MODE_DISABLED")
    metrics = call.db.get("host_metrics", rec["metrics"])
    if metrics["live"] and host not in call.pool.faults.host_down:
        raise XapiFailure("HOST_IS_LIVE", host)
    await call.work(call.pool.timing.delay("vm_start"))
    call.pool.faults.start_host(host)
    _booted(call, host)


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
