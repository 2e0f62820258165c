"""VM records -> XO ``VM``, ``VM-controller``, ``VM-snapshot`` and ``VM-template`` objects.

Field names, types and edge cases follow xo-server's ``xapi-object-to-xo.mjs`` (vm transform):
keys XO leaves ``undefined`` are absent here too.
"""

from __future__ import annotations

import json
from typing import Any

from .context import TransformContext, as_list
from .fields import NULL_REF
from .guest_networks import main_ip_address, normalize_addresses
from .numbers import js_number
from .template_xml import is_firmware_supported, template_disks

_RUNNING = frozenset(("Running", "Paused"))


def domain_type(rec: Any) -> str:
    """``hvm``/``pv``/``pvh``...; older XAPI (no domain_type) or ``unspecified``: by boot policy."""
    value = rec.domain_type
    if value is not None and value not in ("", "unspecified"):
        return str(value)
    return "pv" if rec.HVM_boot_policy == "" else "hvm"


def is_default_template(rec: Any) -> bool:
    return bool(rec.is_default_template) or rec.other_config.get("default_template") == "true"


def vm_object_id(rec: Any, pool_uuid: str | None) -> str:
    """Default templates exist with the same uuid in every pool: XO scopes their id by pool."""
    if (
        rec.is_a_template
        and not rec.is_a_snapshot
        and not rec.is_control_domain
        and is_default_template(rec)
    ):
        return f"{pool_uuid}-{rec.uuid}"
    return str(rec.uuid)


def _xen_tools(running: bool, metrics: Any, guest: Any) -> Any:
    """Deprecated ``xenTools``: None means "absent" (not running or no metrics)."""
    if not running or metrics is None:
        return None
    if guest is None:
        return False
    version = guest.PV_drivers_version
    major, minor = version.get("major"), version.get("minor")
    if major is None or minor is None:
        return False
    return {
        "major": js_number(major),
        "minor": js_number(minor),
        "version": js_number(f"{major}.{minor}"),
    }


def _guest_tools(vm: dict[str, Any], running: bool, metrics: Any, guest: Any) -> None:
    if not running or metrics is None or guest is None:
        return
    version = guest.PV_drivers_version
    major, minor = version.get("major"), version.get("minor")
    has_version = major is not None and minor is not None
    detected = guest.PV_drivers_detected
    if detected is None:  # field absent before XenServer 7
        detected = has_version
    vm["managementAgentDetected"] = (
        has_version or guest.other.get("feature-static-ip-setting") == "1"
    )
    vm["pvDriversDetected"] = detected
    if has_version:
        micro = version.get("micro", "undefined")
        build = version.get("build", "undefined")
        vm["pvDriversVersion"] = f"{major}.{minor}.{micro}-{build}"
    if detected:
        vm["pvDriversUpToDate"] = guest.PV_drivers_up_to_date


def _memory(rec: Any, running: bool, metrics: Any, guest: Any) -> dict[str, Any]:
    dynamic_max = rec.memory_dynamic_max
    memory: dict[str, Any] = {
        "dynamic": [rec.memory_dynamic_min, dynamic_max],
        "static": [rec.memory_static_min, rec.memory_static_max],
    }
    guest_memory = guest.memory if guest is not None else None
    if not running:
        memory["size"] = dynamic_max
    elif guest_memory and guest_memory.get("used"):
        memory["usage"] = js_number(guest_memory["used"])
        memory["size"] = js_number(guest_memory.get("total"))
    elif metrics is not None:
        memory["size"] = metrics.memory_actual
    else:
        memory["size"] = dynamic_max
    return memory


def _container(rec: Any, ctx: TransformContext) -> str | None:
    """Resident host; else the pool, unless a VDI sits on a local SR (then that SR's host)."""
    if rec.resident_on != NULL_REF:
        return ctx.uuid(rec.resident_on)
    get = ctx.get
    for vbd_ref in rec.VBDs:
        vbd = get(vbd_ref)
        vdi = get(vbd.VDI) if vbd is not None else None
        sr = get(vdi.SR) if vdi is not None else None
        if sr is not None and not sr.shared and sr.PBDs:
            pbd = get(sr.PBDs[0])
            host_uuid = ctx.uuid(pbd.host) if pbd is not None else None
            if host_uuid is not None:
                return host_uuid
    return ctx.pool_uuid


def _json_or_none(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _current_operations(rec: Any, ctx: TransformContext) -> dict[str, str]:
    """``{task uuid: operation}``; operations whose task is not loaded yet are left out."""
    operations = {}
    for task_ref, operation in rec.current_operations.items():
        task_uuid = ctx.uuid(task_ref)
        if task_uuid is not None:
            operations[task_uuid] = operation
    return operations


def vm(ref: str, rec: Any, ctx: TransformContext) -> dict[str, Any]:
    metrics = ctx.get(rec.metrics)
    guest = ctx.get(rec.guest_metrics)
    other = rec.other_config
    platform = rec.platform
    virtualization_mode = domain_type(rec)
    is_hvm = virtualization_mode == "hvm"
    running = rec.power_state in _RUNNING
    xen_tools = _xen_tools(running, metrics, guest)
    networks = guest.networks if guest is not None else None

    obj: dict[str, Any] = {"type": "VM", "addresses": normalize_addresses(networks or {})}
    ctx.put_link(obj, "affinityHost", rec.affinity)
    pci = other.get("pci")
    if pci:
        obj["attachedPcis"] = [
            (part.split("/")[1] if "/" in part else None) for part in pci.split(",")
        ]
    obj["auto_poweron"] = other.get("auto_poweron") == "true"
    obj["bios_strings"] = rec.bios_strings
    obj["blockedOperations"] = rec.blocked_operations
    obj["boot"] = rec.HVM_boot_params
    cpus_number = (
        metrics.VCPUs_number
        if running and metrics is not None and xen_tools
        else rec.VCPUs_at_startup
    )
    if rec.is_a_template and not rec.is_control_domain and not rec.is_a_snapshot:
        cpus_number = rec.VCPUs_at_startup
    obj["CPUs"] = ctx.share({"max": rec.VCPUs_max, "number": cpus_number})
    xo_data = _json_or_none(other.get("xo:" + rec.uuid[:8]))
    if isinstance(xo_data, dict) and xo_data.get("creation") is not None:
        obj["creation"] = xo_data["creation"]
    obj["current_operations"] = _current_operations(rec, ctx)
    monitor = other.get("xscontainer-monitor")
    if monitor:
        # XO also parses docker_ps/docker_info XML here; we only report the flag.
        obj["docker"] = {"enabled": monitor != "False"}
    obj["expNestedHvm"] = platform.get("exp-nested-hvm") == "true"
    obj["viridian"] = platform.get("viridian") == "true"
    main_ip = main_ip_address(networks)
    if main_ip is not None:
        obj["mainIpAddress"] = main_ip
    obj["high_availability"] = rec.ha_restart_priority
    obj["isFirmwareSupported"] = is_firmware_supported(
        rec.recommendations, rec.HVM_boot_params.get("firmware")
    )
    obj["memory"] = ctx.share(_memory(rec, running, metrics, guest))
    if metrics is not None:
        obj["installTime"] = metrics.install_time
    obj["name_description"] = rec.name_description
    obj["name_label"] = rec.name_label
    obj["needsVtpm"] = platform.get("vtpm") == "true"
    if "xo:notes" in other:
        obj["notes"] = other["xo:notes"]
    obj["other"] = other
    obj["os_version"] = guest.os_version if guest is not None else None
    ctx.put_link(obj, "parent", rec.parent)
    obj["power_state"] = rec.power_state
    obj["hasVendorDevice"] = rec.has_vendor_device
    resource_set = other.get("xo:resource_set")
    if resource_set:
        parsed = _json_or_none(resource_set)
        if parsed is not None:
            obj["resourceSet"] = parsed
    obj["snapshots"] = ctx.links(rec.snapshots)
    obj["startDelay"] = rec.start_delay
    if metrics is not None:
        obj["startTime"] = metrics.start_time
    obj["secureBoot"] = platform.get("secureboot") == "true"
    ctx.put_link(obj, "suspendSr", rec.suspend_SR)
    obj["tags"] = ctx.share(as_list(rec.tags))
    obj["VIFs"] = ctx.links(rec.VIFs)
    obj["VTPMs"] = ctx.links(rec.VTPMs)
    obj["virtualizationMode"] = virtualization_mode
    if xen_tools is not None:
        obj["xenTools"] = ctx.share(xen_tools)
    _guest_tools(obj, running, metrics, guest)
    obj["$container"] = _container(rec, ctx)
    obj["$VBDs"] = ctx.links(rec.VBDs)
    vgpus = ctx.links(rec.VGPUs)
    obj["VGPUs"] = vgpus
    obj["$VGPUs"] = vgpus
    if "nic_type" in platform:
        obj["nicType"] = platform["nic_type"]
    obj["xenStoreData"] = rec.xenstore_data

    if is_hvm:
        obj["vga"] = platform.get("vga", "cirrus")
        obj["videoram"] = platform.get("videoram", 4)
    cores_per_socket = platform.get("cores-per-socket")
    if cores_per_socket is not None:
        obj["coresPerSocket"] = js_number(cores_per_socket)

    _type_specific(obj, rec, ctx)
    _vcpu_params(obj, rec.VCPUs_params)
    if not is_hvm:
        obj["PV_args"] = rec.PV_args
    return obj


def _type_specific(obj: dict[str, Any], rec: Any, ctx: TransformContext) -> None:
    if rec.is_control_domain:
        obj["type"] = "VM-controller"
    elif rec.is_a_snapshot:
        obj["type"] = "VM-snapshot"
        obj["snapshot_time"] = rec.snapshot_time
        ctx.put_link(obj, "$snapshot_of", rec.snapshot_of)
        ctx.put_link(obj, "suspendVdi", rec.suspend_VDI)
    elif rec.is_a_template:
        default = is_default_template(rec)
        obj["type"] = "VM-template"
        if default:
            obj["id"] = vm_object_id(rec, ctx.pool_uuid)
        obj["isDefaultTemplate"] = default
        other = rec.other_config
        info: dict[str, Any] = {}
        if "install-arch" in other:
            info["arch"] = other["install-arch"]
        info["disks"] = template_disks(other.get("disks") or "")
        methods = other.get("install-methods")
        info["install_methods"] = methods.split(",") if methods else []
        if "install-repository" in other:
            info["install_repository"] = other["install-repository"]
        obj["template_info"] = info


def _vcpu_params(obj: dict[str, Any], params: dict[str, str]) -> None:
    if not params:
        return
    if params.get("cap"):
        obj["cpuCap"] = js_number(params["cap"])
    if params.get("mask"):
        obj["cpuMask"] = [js_number(part) for part in params["mask"].split(",")]
    if params.get("weight"):
        obj["cpuWeight"] = js_number(params["weight"])
