"""Which VM operations are allowed, and the exact error when one is not (reference §4.2).

Mirrors xapi's ``Xapi_vm_lifecycle.check_operation_error``, in its order:
1. ``OPERATION_BLOCKED [vm, reason]`` (``blocked_operations``);
2. ``VM_BAD_POWER_STATE [vm, expected, actual]`` (lowercase states joined by ", ");
3. ``OTHER_OPERATION_IN_PROGRESS ["VM", vm, op, task]``;
4. ``VM_IS_TEMPLATE`` / ``VM_IS_SNAPSHOT [vm, op]`` (and ``OPERATION_NOT_ALLOWED`` for dom0);
5. ``VM_LACKS_FEATURE [vm]`` for clean shutdown/reboot (and suspend) of an HVM guest without
   PV drivers.
"""

from __future__ import annotations

from typing import Any

from xo.sim.db import Database
from xo.sim.errors import XapiFailure
from xo.sim.schema import NULL_REF

HALTED, PAUSED, RUNNING, SUSPENDED = "Halted", "Paused", "Running", "Suspended"
ALL_STATES = (HALTED, PAUSED, RUNNING, SUSPENDED)

# xapi_vm_lifecycle.ml allowed_power_states (order as xapi lists them in errors).
POWER_STATES: dict[str, tuple[str, ...]] = {
    "start": (HALTED,),
    "start_on": (HALTED,),
    "clean_shutdown": (RUNNING,),
    "clean_reboot": (RUNNING,),
    "hard_shutdown": (PAUSED, SUSPENDED, RUNNING),
    "shutdown": (PAUSED, SUSPENDED, RUNNING),
    "hard_reboot": (PAUSED, RUNNING),
    "suspend": (RUNNING,),
    "resume": (SUSPENDED,),
    "resume_on": (SUSPENDED,),
    "pause": (RUNNING,),
    "unpause": (PAUSED,),
    "pool_migrate": (RUNNING,),
    "migrate_send": (HALTED, SUSPENDED, RUNNING),
    "clone": (HALTED,),
    "copy": (HALTED,),
    "snapshot": ALL_STATES,
    "checkpoint": (PAUSED, SUSPENDED, RUNNING),
    "revert": ALL_STATES,
    "destroy": (HALTED, SUSPENDED),
    "export": (HALTED, SUSPENDED),
    "metadata_export": ALL_STATES,
    "make_into_template": (HALTED,),
    "provision": (HALTED,),
    "create_template": (HALTED,),
    "power_state_reset": ALL_STATES,
    "changing_memory_limits": (HALTED,),
    "changing_static_range": (HALTED,),
    "changing_dynamic_range": (HALTED, RUNNING),
    "changing_shadow_memory": (HALTED,),
    "changing_VCPUs": (HALTED,),
    "changing_VCPUs_live": (RUNNING,),
    "changing_NVRAM": (HALTED,),
    "create_vtpm": (HALTED,),
}

# Operations listed in allowed_operations (a subset of the enum; xapi also leaves some out).
LISTED = (
    "snapshot", "clone", "copy", "create_template", "revert", "checkpoint", "provision", "start",
    "start_on", "pause", "unpause", "clean_shutdown", "clean_reboot", "hard_shutdown",
    "power_state_reset", "hard_reboot", "suspend", "resume", "resume_on", "pool_migrate",
    "migrate_send", "changing_dynamic_range", "changing_static_range", "changing_memory_limits",
    "changing_shadow_memory", "changing_VCPUs", "changing_VCPUs_live", "changing_NVRAM",
    "make_into_template", "export", "metadata_export", "destroy", "create_vtpm",
)  # fmt: skip

TEMPLATE_OPS = frozenset({
    "clone", "copy", "export", "provision", "metadata_export", "changing_memory_limits",
    "changing_static_range", "changing_shadow_memory", "changing_VCPUs", "changing_NVRAM",
    "create_vtpm", "destroy", "snapshot",
})  # fmt: skip
SNAPSHOT_OPS = frozenset({
    "revert", "clone", "copy", "export", "metadata_export", "destroy", "hard_shutdown",
    "create_template",
})  # fmt: skip
CONTROL_DOMAIN_OPS = frozenset({"changing_dynamic_range", "metadata_export"})
NEEDS_PV_DRIVERS = frozenset({"clean_shutdown", "clean_reboot", "suspend", "checkpoint"})


def is_hvm(vm: dict[str, Any]) -> bool:
    if vm["domain_type"] in ("hvm", "pv", "pvh", "pv_in_pvh"):
        return vm["domain_type"] == "hvm"
    return vm["HVM_boot_policy"] != ""


def has_pv_drivers(db: Database, vm: dict[str, Any]) -> bool:
    gm = (
        db.tables["VM_guest_metrics"].get(vm["guest_metrics"])
        if vm["guest_metrics"] != NULL_REF
        else None
    )
    return bool(gm and gm["PV_drivers_detected"])


def _error(vm: dict[str, Any], op: str, pv_drivers: bool, ignore_current: bool) -> tuple | None:
    """The error as a tuple (code, *params without the VM ref where it comes first)."""
    blocked = vm["blocked_operations"]
    if op in blocked:
        return ("OPERATION_BLOCKED", None, blocked[op])
    states = POWER_STATES.get(op, ALL_STATES)
    if (vm["is_a_snapshot"] or vm["is_a_template"]) and op in ("clone", "copy"):
        states = (HALTED, SUSPENDED)
    power = vm["power_state"]
    if power not in states:
        return ("VM_BAD_POWER_STATE", None, ", ".join(s.lower() for s in states), power.lower())
    current = vm["current_operations"]
    if current and not ignore_current:
        task, running = next(iter(current.items()))
        return ("OTHER_OPERATION_IN_PROGRESS", "VM", None, running, task)
    if vm["is_control_domain"] and op not in CONTROL_DOMAIN_OPS:
        return ("OPERATION_NOT_ALLOWED", "This operation is not allowed on dom0")
    if vm["is_a_snapshot"]:
        if op not in SNAPSHOT_OPS:
            return ("VM_IS_SNAPSHOT", None, op)
    elif vm["is_a_template"]:
        if op not in TEMPLATE_OPS or (op == "destroy" and vm["is_default_template"]):
            return ("VM_IS_TEMPLATE", None, op)
    if op in NEEDS_PV_DRIVERS and is_hvm(vm) and not pv_drivers:
        return ("VM_LACKS_FEATURE", None)
    return None


def operation_error(
    db: Database, ref: str, vm: dict[str, Any], op: str, *, ignore_current: bool = False
) -> XapiFailure | None:
    """The error xapi would raise for ``op`` on this VM now, or None when it is allowed."""
    error = _error(vm, op, has_pv_drivers(db, vm), ignore_current)
    if error is None:
        return None
    return XapiFailure(error[0], *(ref if p is None else p for p in error[1:]))


_ALLOWED_CACHE: dict[tuple, list[str]] = {}


def allowed_operations(db: Database, ref: str, vm: dict[str, Any]) -> list[str]:
    pv = has_pv_drivers(db, vm)
    key = None
    if not vm["blocked_operations"] and not vm["current_operations"]:
        key = (
            vm["power_state"], vm["is_a_template"], vm["is_default_template"], vm["is_a_snapshot"],
            vm["is_control_domain"], is_hvm(vm), pv,
        )  # fmt: skip
        cached = _ALLOWED_CACHE.get(key)
        if cached is not None:
            return cached
    ops = [op for op in LISTED if _error(vm, op, pv, False) is None]
    if key is not None:
        _ALLOWED_CACHE[key] = ops
    return ops


def check(db: Database, ref: str, op: str) -> dict[str, Any]:
    """Raise the error of ``op`` on VM ``ref`` if any; returns the record."""
    vm = db.get("VM", ref)
    error = operation_error(db, ref, vm, op)
    if error is not None:
        raise error
    return vm


def refresh(db: Database, ref: str) -> None:
    """Recompute ``allowed_operations`` (a ``mod`` event when it changes)."""
    vm = db.tables["VM"].get(ref)
    if vm is None:
        return
    ops = allowed_operations(db, ref, vm)
    if ops != vm["allowed_operations"]:
        db.update("VM", ref, allowed_operations=ops)
