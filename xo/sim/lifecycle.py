"""VM power state machine: start, shutdown, reboot, suspend/resume, pause/unpause, migrate.

Every operation (reference §4): checks :mod:`xo.sim.vm_ops` rules atomically, holds
``current_operations[task] = op`` while it works (so concurrent calls get
``OTHER_OPERATION_IN_PROGRESS`` and ``allowed_operations`` shrinks), takes the configured time
(progress reported on its task, ``task.cancel`` honoured), then applies the state change to the
VM, its metrics, guest metrics, consoles, devices and hosts -- all as DB writes, so all visible
as events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from xo.sim import vm_ops
from xo.sim.errors import XapiFailure
from xo.sim.methods.registry import Call
from xo.sim.schema import NULL_REF
from xo.sim.tasks import now
from xo.sim.vm_records import (
    create_consoles,
    create_guest_metrics,
    destroy_consoles,
    destroy_guest_metrics,
)

NO_PV_DRIVERS_KEY = "xapi-sim:no-pv-drivers"
"""VM.other_config key: when "true", the guest shows no PV drivers once started."""


@asynccontextmanager
async def operation(call: Call, ref: str, op: str) -> AsyncIterator[dict[str, Any]]:
    """Check ``op`` on VM ``ref`` and hold it in ``current_operations`` for the duration."""
    db = call.db
    vm = vm_ops.check(db, ref, op)
    key = call.task if call.task != NULL_REF else db.ids.ref()
    db.update("VM", ref, current_operations={**vm["current_operations"], key: op})
    vm_ops.refresh(db, ref)
    try:
        yield db.get("VM", ref)
    finally:
        current = db.tables["VM"].get(ref)
        if current is not None:
            ops = {k: v for k, v in current["current_operations"].items() if k != key}
            db.update("VM", ref, current_operations=ops)
            vm_ops.refresh(db, ref)


# --- host placement ---------------------------------------------------------------------------


def memory_needed(vm: dict[str, Any]) -> int:
    return vm["memory_static_max"] + vm["memory_overhead"]


def host_free_memory(call: Call, host: str) -> int:
    metrics = call.db.get("host", host)["metrics"]
    return call.db.get("host_metrics", metrics)["memory_free"]


def _adjust_free(call: Call, host: str, delta: int) -> None:
    if host == NULL_REF or not call.db.exists("host", host):
        return
    metrics = call.db.get("host", host)["metrics"]
    rec = call.db.get("host_metrics", metrics)
    call.db.update("host_metrics", metrics, memory_free=rec["memory_free"] + delta)


def _srs_of(call: Call, vm: dict[str, Any]) -> set[str]:
    srs = set()
    for vbd in vm["VBDs"]:
        vdi = call.db.get("VBD", vbd)["VDI"]
        if vdi != NULL_REF and call.db.exists("VDI", vdi):
            srs.add(call.db.get("VDI", vdi)["SR"])
    return srs


def _host_sees(call: Call, host: str, sr: str) -> bool:
    return any(
        call.db.get("PBD", pbd)["host"] == host and call.db.get("PBD", pbd)["currently_attached"]
        for pbd in call.db.get("SR", sr)["PBDs"]
    )


def assert_can_run_on(call: Call, ref: str, vm: dict[str, Any], host: str) -> None:
    db = call.db
    host_rec = db.get("host", host)
    live = db.get("host_metrics", host_rec["metrics"])["live"]
    if not live or host in call.pool.faults.host_down:
        raise XapiFailure("HOST_OFFLINE", host)
    if not host_rec["enabled"]:
        raise XapiFailure("HOST_DISABLED", host)
    for sr in sorted(_srs_of(call, vm)):
        if not _host_sees(call, host, sr):
            raise XapiFailure("VM_REQUIRES_SR", ref, sr)
    needed, free = memory_needed(vm), host_free_memory(call, host)
    if needed > free:
        raise XapiFailure("HOST_NOT_ENOUGH_FREE_MEMORY", needed, free)


def choose_host(call: Call, ref: str, vm: dict[str, Any]) -> str:
    """Affinity host if it can run the VM, else the candidate with the most free memory."""
    candidates = list(call.db.all("host"))
    affinity = vm["affinity"]
    if affinity in candidates:
        try:
            assert_can_run_on(call, ref, vm, affinity)
            return affinity
        except XapiFailure:
            pass
    best, best_free = None, -1
    last_error: XapiFailure | None = None
    for host in candidates:
        try:
            assert_can_run_on(call, ref, vm, host)
        except XapiFailure as error:
            last_error = error
            continue
        free = host_free_memory(call, host)
        if free > best_free:
            best, best_free = host, free
    if best is None:
        if last_error is not None and last_error.code == "HOST_NOT_ENOUGH_FREE_MEMORY":
            raise last_error
        raise XapiFailure("NO_HOSTS_AVAILABLE")
    return best


# --- state changes ----------------------------------------------------------------------------


def _set_devices_attached(call: Call, vm: dict[str, Any], attached: bool) -> None:
    for cls, refs in (("VBD", vm["VBDs"]), ("VIF", vm["VIFs"])):
        for ref in refs:
            rec = call.db.tables[cls].get(ref)
            if rec is not None and rec["currently_attached"] != attached:
                call.db.update(cls, ref, currently_attached=attached)


def _next_domid(call: Call, host: str) -> int:
    used = [
        vm["domid"] for vm in call.db.all("VM").values() if vm["resident_on"] == host
    ]
    return max(used, default=0) + 1


def reserve_memory(call: Call, ref: str, host: str) -> int:
    """Take the VM's memory on ``host`` now (while it is being scheduled there); returns it."""
    needed = memory_needed(call.db.get("VM", ref))
    _adjust_free(call, host, -needed)
    return needed


def release_memory(call: Call, host: str, amount: int) -> None:
    _adjust_free(call, host, amount)


def become_running(
    call: Call, ref: str, host: str, *, paused: bool = False, reserved: bool = False
) -> None:
    """Halted/Suspended -> Running (or Paused) on ``host`` (memory already ``reserved`` or not)."""
    db = call.db
    vm = db.get("VM", ref)
    stamp = now()
    if vm["suspend_VDI"] != NULL_REF and db.exists("VDI", vm["suspend_VDI"]):
        suspend_vdi = vm["suspend_VDI"]
        db.update("VM", ref, suspend_VDI=NULL_REF)
        db.destroy("VDI", suspend_vdi)
        call.pool.disks.destroy(suspend_vdi)
    db.update(
        "VM",
        ref,
        power_state="Paused" if paused else "Running",
        resident_on=host,
        scheduled_to_be_resident_on=NULL_REF,
        domid=_next_domid(call, host),
    )
    if not reserved:
        _adjust_free(call, host, -memory_needed(vm))
    vm = db.get("VM", ref)
    if db.exists("VM_metrics", vm["metrics"]):
        db.update(
            "VM_metrics",
            vm["metrics"],
            memory_actual=vm["memory_dynamic_max"],
            VCPUs_number=vm["VCPUs_at_startup"],
            VCPUs_utilisation={str(i): 0.0 for i in range(vm["VCPUs_at_startup"])},
            VCPUs_CPU={str(i): i for i in range(vm["VCPUs_at_startup"])},
            start_time=stamp,
            last_updated=stamp,
            current_domain_type="hvm" if vm_ops.is_hvm(vm) else "pv",
        )
    _set_devices_attached(call, vm, True)
    create_consoles(db, ref, host, call.pool.url_scheme, call.pool.host_netloc(host))
    if vm["guest_metrics"] == NULL_REF:
        pv = vm["other_config"].get(NO_PV_DRIVERS_KEY) != "true"
        gm = create_guest_metrics(db, _os_version(call, vm), _guest_ip(call, vm), now=stamp, pv_drivers=pv)
        db.update("VM", ref, guest_metrics=gm)


def become_halted(call: Call, ref: str, *, suspended_vdi: str | None = None) -> None:
    """Running/Paused/Suspended -> Halted (or Suspended when ``suspended_vdi`` is given)."""
    db = call.db
    vm = db.get("VM", ref)
    was_resident = vm["resident_on"]
    if vm["power_state"] in ("Running", "Paused"):
        _adjust_free(call, was_resident, memory_needed(vm))
    destroy_consoles(db, ref)
    _set_devices_attached(call, vm, False)
    fields: dict[str, Any] = {
        "power_state": "Suspended" if suspended_vdi else "Halted",
        "resident_on": NULL_REF,
        "scheduled_to_be_resident_on": NULL_REF,
        "domid": -1,
    }
    if suspended_vdi:
        fields["suspend_VDI"] = suspended_vdi
        fields["suspend_SR"] = db.get("VDI", suspended_vdi)["SR"]
    elif vm["suspend_VDI"] != NULL_REF:
        if db.exists("VDI", vm["suspend_VDI"]):
            db.destroy("VDI", vm["suspend_VDI"])
            call.pool.disks.destroy(vm["suspend_VDI"])
        fields["suspend_VDI"] = NULL_REF
    db.update("VM", ref, **fields)
    if not suspended_vdi:
        destroy_guest_metrics(db, ref)
    if db.exists("VM_metrics", vm["metrics"]):
        db.update("VM_metrics", vm["metrics"], memory_actual=0, VCPUs_number=0, VCPUs_utilisation={}, VCPUs_CPU={}, current_domain_type="unspecified", last_updated=now())  # fmt: skip


def make_suspend_vdi(call: Call, ref: str) -> str:
    db = call.db
    vm = db.get("VM", ref)
    pool = db.get("pool", call.pool.pool_ref)
    sr = pool["suspend_image_SR"]
    if sr == NULL_REF or not db.exists("SR", sr):
        raise XapiFailure("VM_NO_SUSPEND_SR", ref)
    size = vm["memory_static_max"]
    vdi = db.create(
        "VDI",
        {"name_label": "Suspend image", "name_description": f"Suspend image of {vm['name_label']}", "SR": sr, "virtual_size": size, "physical_utilisation": size, "type": "suspend", "managed": True, "other_config": {}},  # fmt: skip
    )
    call.pool.disks.create(vdi, size)
    return vdi


def _os_version(call: Call, vm: dict[str, Any]) -> dict[str, str]:
    from xo.sim import catalog

    base = vm["other_config"].get("base_template_name", "")
    for guest in catalog.GUESTS:
        if guest.template == base:
            return guest.os_version
    return {"name": "Linux", "distro": "linux", "uname": "6.1.0", "major": "6", "minor": "1"}


def _guest_ip(call: Call, vm: dict[str, Any]) -> str:
    digest = int(vm["uuid"].replace("-", "")[:8], 16)
    return f"10.{200 + digest % 50}.{(digest >> 8) % 250}.{(digest >> 16) % 250 + 2}"
