"""``vm.set``'s properties -> the XAPI calls that apply them (XO's ``_editVm``), pure.

``plan_vm_edit(record, changes, ...)`` reads the VM's XAPI record and XO-named changes
(``CPUs``, ``memoryMax``, ``coresPerSocket``...) and returns the calls to make, in order. As XO:

- a value equal to the current one is skipped;
- constraints go first: raising ``CPUs`` above ``VCPUs_max`` raises ``VCPUs_max`` first (to the
  ``cpusMax`` given in the same call, else to the new ``CPUs``); same for memory (``memoryMin``
  <= ``memoryMax`` <= ``memoryStaticMax``);
- ``memory`` sets all memory limits at once for a VM without ballooning, else ``memoryMax``;
- memory of a running VM changes only within its static range (``set_memory_dynamic_range``).

Map entries (``platform``, ``other_config``, ``VCPUs_params``...) are set with
``remove_from_<map>`` then ``add_to_<map>`` (XAPI refuses to add an existing key).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from xo.api.errors import invalid_parameters, not_implemented
from xo.api.sizes import parse_size

NULL_REF = "OpaqueRef:NULL"
VGA_VALUES = ("std", "cirrus")
VIDEORAM_VALUES = (1, 2, 4, 8, 16)


@dataclass(frozen=True)
class XapiCall:
    """``method(*params)`` (the session is the client's business)."""

    method: str
    params: tuple[Any, ...]
    # Another call to make instead when XAPI answers MEMORY_CONSTRAINT_VIOLATION*, or the message
    # of the invalid-parameters error to raise then.
    fallback: XapiCall | None = None
    refusal: str | None = None


def is_memory_constraint_error(code: str) -> bool:
    return code.startswith("MEMORY_CONSTRAINT_VIOLATION")


class _Planner:
    def __init__(
        self,
        record: Mapping[str, Any],
        changes: Mapping[str, Any],
        vm_ref: str,
        pool_ref: str | None,
        ref_of: Callable[[str], str],
    ) -> None:
        self.vm = record
        self.changes = changes
        self.ref = vm_ref
        self.pool_ref = pool_ref
        self.ref_of = ref_of
        self.calls: list[XapiCall] = []
        self.running = record.get("power_state") == "Running"

    # -- helpers --------------------------------------------------------------------------------

    def call(self, method: str, *params: Any, **options: Any) -> None:
        self.calls.append(XapiCall(method, params, **options))

    def set_entry(self, field: str, key: str, value: str | None, cls: str = "VM") -> None:
        ref = self.ref if cls == "VM" else self.pool_ref
        self.call(f"{cls}.remove_from_{field}", ref, key)
        if value is not None:
            self.call(f"{cls}.add_to_{field}", ref, key, value)

    def current(self, name: str) -> int:
        field = {
            "CPUs": "VCPUs_at_startup",
            "cpusMax": "VCPUs_max",
            "memoryMin": "memory_dynamic_min",
            "memoryMax": "memory_dynamic_max",
            "memoryStaticMax": "memory_static_max",
        }[name]
        return int(self.vm[field])

    # -- numeric properties with constraints ----------------------------------------------------

    def numeric(self, name: str, value: int) -> None:
        if value == self.current(name):
            return
        # (other property, must hold between the other's current value and the new value)
        constraints: dict[str, tuple[str, Callable[[int, int], bool]]] = {
            "CPUs": ("cpusMax", lambda other, new: other >= new),
            "cpusMax": ("CPUs", lambda other, new: other <= new),
            "memoryMin": ("memoryMax", lambda other, new: other >= new),
            "memoryStaticMax": ("memoryMax", lambda other, new: other <= new),
        }
        if name in constraints:
            other, holds = constraints[name]
            if not holds(self.current(other), value):
                wanted = self.changes.get(other)
                self.numeric(other, value if wanted is None else self.size_or_int(other, wanted))
        getattr(self, "set_" + name)(value)

    def size_or_int(self, name: str, value: Any) -> int:
        if name.startswith("memory"):
            return parse_size(value)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise invalid_parameters(f"{name} must be an integer, got {value!r}") from None

    def set_CPUs(self, value: int) -> None:  # noqa: N802 (XO's param name)
        if self.running:
            self.call("VM.set_VCPUs_number_live", self.ref, value)
        else:
            self.call("VM.set_VCPUs_at_startup", self.ref, value)

    def set_cpusMax(self, value: int) -> None:  # noqa: N802
        self.call("VM.set_VCPUs_max", self.ref, value)

    def set_memoryMin(self, value: int) -> None:  # noqa: N802
        self.call("VM.set_memory_dynamic_min", self.ref, value)

    def set_memoryStaticMax(self, value: int) -> None:  # noqa: N802
        self.call("VM.set_memory_static_max", self.ref, value)

    def set_memoryMax(self, dynamic_max: int) -> None:  # noqa: N802
        dynamic_min = min(int(self.vm["memory_dynamic_min"]), dynamic_max)
        if self.running:
            self.call(
                "VM.set_memory_dynamic_range", self.ref, dynamic_min, dynamic_max,
                refusal="cannot change the memory of a running VM beyond its static range",
            )  # fmt: skip
            return
        static_min = min(int(self.vm["memory_static_min"]), dynamic_max)
        static_max = max(dynamic_max, int(self.vm["memory_static_max"]))
        fallback = XapiCall(
            "VM.set_memory_limits", (self.ref, static_min, dynamic_max, dynamic_max, dynamic_max)
        )
        self.call(
            "VM.set_memory_limits", self.ref, static_min, static_max, dynamic_min, dynamic_max,
            fallback=fallback,
        )  # fmt: skip

    def memory(self, value: int) -> None:
        vm = self.vm
        ballooning = (
            vm["memory_dynamic_min"] != vm["memory_dynamic_max"]
            or vm["memory_dynamic_min"] != vm["memory_static_max"]
        )
        if ballooning:
            self.numeric("memoryMax", value)
        elif value != int(vm["memory_dynamic_max"]):
            static_min = int(vm["memory_static_min"])
            self.call("VM.set_memory_limits", self.ref, static_min, value, value, value)

    # -- the rest -------------------------------------------------------------------------------

    def apply(self, name: str, value: Any) -> None:
        ref = self.ref
        simple = {
            "name_label": "VM.set_name_label",
            "name_description": "VM.set_name_description",
            "PV_args": "VM.set_PV_args",
            "pv_args": "VM.set_PV_args",
            "hasVendorDevice": "VM.set_has_vendor_device",
            "startDelay": "VM.set_start_delay",
            "high_availability": "VM.set_ha_restart_priority",
            "uefiMode": "VM.set_uefi_mode",
        }
        flags = {
            "expNestedHvm": "exp-nested-hvm",
            "nestedVirt": "nested-virt",
            "viridian": "viridian",
        }
        if name in simple:
            self.call(simple[name], ref, value)
        elif name in flags:
            self.set_entry("platform", flags[name], "true" if value else None)
        elif name in ("CPUs", "cpusMax", "memoryMin", "memoryMax", "memoryStaticMax"):
            self.numeric(name, self.size_or_int(name, value))
        elif name == "memory":
            self.memory(parse_size(value))
        elif name == "auto_poweron":
            self.set_entry("other_config", "auto_poweron", "true" if value else None)
            if value and self.pool_ref is not None:
                self.set_entry("other_config", "auto_poweron", "true", cls="pool")
        elif name == "notes":
            self.set_entry("other_config", "xo:notes", value)
        elif name in ("cpuCap", "cpuWeight"):
            key = "cap" if name == "cpuCap" else "weight"
            self.set_entry("VCPUs_params", key, None if value is None else str(value))
        elif name == "cpuMask":
            self.set_entry("VCPUs_params", "mask", None if value is None else ",".join(map(str, value)))  # fmt: skip
        elif name == "coresPerSocket":
            self.set_entry("platform", "cores-per-socket", None if value is None else str(value))
        elif name == "nicType":
            self.set_entry("platform", "nic_type", value)
        elif name == "secureBoot":
            self.set_entry("platform", "secureboot", "true" if value else "false")
        elif name == "vga":
            if value not in VGA_VALUES:
                raise invalid_parameters(f"vga must be one of {', '.join(VGA_VALUES)}")
            self.set_entry("platform", "vga", value)
        elif name == "videoram":
            if value not in VIDEORAM_VALUES:
                raise invalid_parameters(f"videoram must be one of {VIDEORAM_VALUES}")
            self.set_entry("platform", "videoram", str(int(value)))
        elif name == "hvmBootFirmware":
            self.set_entry("HVM_boot_params", "firmware", value)
            model = "uefi" if value == "uefi" else "compat"
            self.set_entry("platform", "device-model", f"qemu-upstream-{model}")
        elif name == "virtualizationMode":
            if value not in ("pv", "hvm"):
                raise invalid_parameters("the virtualization mode must be 'pv' or 'hvm'")
            self.call("VM.set_domain_type", ref, value)
        elif name == "affinityHost":
            self.call("VM.set_affinity", ref, NULL_REF if value is None else self.ref_of(value))
        elif name == "suspendSr":
            self.call("VM.set_suspend_SR", ref, NULL_REF if value is None else value["_xapiRef"])
        elif name == "blockedOperations":
            for operation, reason in value.items():
                text = reason if isinstance(reason, str) else ("true" if reason else None)
                self.set_entry("blocked_operations", operation, text)
        elif name == "xenStoreData":
            for key, data in value.items():
                self.set_entry("xenstore_data", _xenstore_key(key), data)
        elif name == "creation":
            self.creation(value)
        elif name in ("resourceSet", "share"):
            if value not in (None, False):
                raise not_implemented()  # no resource sets (self-service) in this server
        else:
            raise invalid_parameters(f"unknown VM property {name}")

    def creation(self, value: Mapping[str, Any]) -> None:
        """XO keeps its own data on a VM as JSON in ``other_config["xo:<uuid[:8]>"]``."""
        key = "xo:" + str(self.vm["uuid"])[:8]
        try:
            data = json.loads(self.vm.get("other_config", {}).get(key) or "{}")
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        data["creation"] = {**(data.get("creation") or {}), **value}
        self.set_entry("other_config", key, json.dumps(data, separators=(",", ":")))


_XENSTORE_PREFIX = re.compile(r"^(vm-data/)+")


def _xenstore_key(key: str) -> str:
    """Keys live under ``vm-data/``; no escaping it (XO's sandboxing)."""
    stripped = _XENSTORE_PREFIX.sub("", key)
    if not stripped or ".." in stripped or stripped.startswith("/"):
        raise invalid_parameters(f"invalid xenstore key: {key}")
    return "vm-data/" + stripped


def plan_vm_edit(
    record: Mapping[str, Any],
    changes: Mapping[str, Any],
    *,
    vm_ref: str,
    pool_ref: str | None = None,
    ref_of: Callable[[str], str] = lambda id: id,
) -> list[XapiCall]:
    """The XAPI calls applying ``changes`` (XO ``vm.set`` names) to the VM ``record``.

    ``ref_of`` turns an XO id (``affinityHost``) into an OpaqueRef; ``pool_ref`` is the VM's
    pool (``auto_poweron`` also marks the pool). Raises XO errors on invalid values.
    """
    planner = _Planner(record, changes, vm_ref, pool_ref, ref_of)
    for name, value in changes.items():
        planner.apply(name, value)
    return planner.calls
