"""pool, host and host hardware/patch records -> XO objects (xo-server's transforms)."""

from __future__ import annotations

import math
from typing import Any

from .context import TransformContext, as_list
from .numbers import js_number
from .timestamps import to_timestamp

_GIB = 1024**3


def _cpus(cpu_info: dict[str, Any]) -> dict[str, Any]:
    return {
        "cores": js_number(cpu_info.get("cpu_count")),
        "sockets": js_number(cpu_info.get("socket_count")),
    }


def pool(ref: str, rec: Any, ctx: TransformContext) -> dict[str, Any]:
    master = ctx.get(rec.master)
    other = rec.other_config
    obj: dict[str, Any] = {"auto_poweron": other.get("auto_poweron") == "true"}
    ctx.put_link(obj, "crashDumpSr", rec.crash_dump_SR)
    obj["current_operations"] = rec.current_operations
    ctx.put_link(obj, "default_SR", rec.default_SR)
    obj["HA_enabled"] = rec.ha_enabled
    ha_srs = []
    for vdi_ref in rec.ha_statefiles:
        vdi = ctx.get(vdi_ref)
        if vdi is not None:
            ha_srs.append(ctx.uuid(vdi.SR))
    obj["haSrs"] = ha_srs
    ctx.put_link(obj, "master", rec.master)
    obj["tags"] = as_list(rec.tags)
    obj["name_description"] = rec.name_description
    obj["name_label"] = rec.name_label or (master.name_label if master is not None else "")
    obj["migrationCompression"] = rec.migration_compression
    obj["xosanPackInstallationTime"] = to_timestamp(other.get("xosan_pack_installation_time"))
    obj["otherConfig"] = other
    obj["cpus"] = _cpus(rec.cpu_info)
    ctx.put_link(obj, "suspendSr", rec.suspend_image_SR)
    obj["zstdSupported"] = rec.restrictions.get("restrict_zstd_export") == "false"
    obj["vtpmSupported"] = rec.restrictions.get("restrict_vtpm") == "false"
    return obj


def _uses_update_system(software_version: dict[str, str]) -> bool:
    """Platform >= 2.1.1 (XenServer 7.1+) lists pool_updates instead of vendor:pack keys."""
    parts = []
    for part in str(software_version.get("platform_version", "")).split(".")[:3]:
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts) >= (2, 1, 1)


def _supplemental_packs(rec: Any, ctx: TransformContext) -> list[dict[str, Any]]:
    software_version = rec.software_version
    packs: list[dict[str, Any]] = []
    if _uses_update_system(software_version):
        for update_ref in rec.updates:
            update = ctx.get(update_ref)
            if update is None or update.name_label.startswith("XS"):
                continue  # patches are reported through pool_patch objects
            key_parts = update.key.split("-")
            packs.append(
                {
                    "name": update.name_label,
                    "description": update.name_description,
                    "author": key_parts[3] if len(key_parts) > 3 else None,
                    "version": update.version,
                    "guidance": as_list(update.after_apply_guidance),
                    "hosts": ctx.links(update.hosts),
                    **({"vdi": ctx.uuid(update.vdi)} if update.vdi != "OpaqueRef:NULL" else {}),
                    "size": update.installation_size,
                }
            )
        return packs
    for key, value in software_version.items():
        parts = key.split(":")
        if len(parts) != 2 or not isinstance(value, str):
            continue
        description, _, version = value.partition(", ")
        version_words = version.split(" ")
        packs.append(
            {
                "name": parts[1],
                "description": description,
                "author": parts[0],
                "version": version_words[1] if len(version_words) > 1 else None,
            }
        )
    return packs


def _host_memory(metrics: Any) -> dict[str, Any]:
    if metrics is None:
        return {"usage": 0, "size": 0, "total": 0}
    total = math.ceil(metrics.memory_total / _GIB) * _GIB
    return {"usage": total - metrics.memory_free, "size": total}


def _reboot_required(rec: Any) -> bool:
    other = rec.other_config
    if rec.software_version.get("product_brand") == "XCP-ng":
        boot_time = to_timestamp(other.get("boot_time")) or 0  # JS: null < n compares 0 < n
        installed = js_number(other.get("rpm_patch_installation_time"))
        return installed is not None and boot_time < installed
    return bool(rec.updates_requiring_reboot)


def host(ref: str, rec: Any, ctx: TransformContext) -> dict[str, Any]:
    metrics = ctx.get(rec.metrics)
    other = rec.other_config
    software_version = rec.software_version
    obj: dict[str, Any] = {"CPUs": rec.cpu_info, "address": rec.address}
    obj["bios_strings"] = rec.bios_strings
    if "build_number" in software_version:
        obj["build"] = software_version["build_number"]
    iommu = rec.chipset_info.get("iommu")
    obj["chipset_info"] = {} if iommu is None else {"iommu": iommu == "true"}
    obj["enabled"] = rec.enabled
    ctx.put_link(obj, "controlDomain", rec.control_domain)
    obj["cpus"] = _cpus(rec.cpu_info)
    obj["current_operations"] = rec.current_operations
    obj["hostname"] = rec.hostname
    obj["iscsiIqn"] = rec.iscsi_iqn if rec.iscsi_iqn is not None else other.get("iscsi_iqn", "")
    obj["zstdSupported"] = rec.license_params.get("restrict_zstd_export") == "false"
    obj["license_params"] = rec.license_params
    obj["license_server"] = rec.license_server
    obj["license_expiry"] = to_timestamp(rec.license_params.get("expiry"))
    obj["logging"] = rec.logging
    obj["name_description"] = rec.name_description
    obj["name_label"] = rec.name_label
    obj["memory"] = _host_memory(metrics)
    obj["multipathing"] = other.get("multipathing") == "true"
    obj["otherConfig"] = other
    obj["patches"] = ctx.links(rec.patches)
    obj["powerOnMode"] = rec.power_on_mode
    if metrics is None:
        obj["power_state"] = "Unknown"
    else:
        obj["power_state"] = "Running" if metrics.live else "Halted"
    obj["residentVms"] = ctx.links(rec.resident_VMs)
    obj["startTime"] = to_timestamp(other.get("boot_time"))
    obj["supplementalPacks"] = _supplemental_packs(rec, ctx)
    obj["agentStartTime"] = to_timestamp(other.get("agent_start_time"))
    obj["rebootRequired"] = _reboot_required(rec)
    obj["tags"] = as_list(rec.tags)
    if "product_version" in software_version:
        obj["version"] = software_version["product_version"]
    if "product_brand" in software_version:
        obj["productBrand"] = software_version["product_brand"]
    obj["hvmCapable"] = any(c.startswith("hvm") for c in rec.capabilities)
    if rec.certificates is not None:
        certificates = []
        for cert_ref in rec.certificates:
            cert = ctx.get(cert_ref)
            if cert is not None:
                certificates.append({"fingerprint": cert.fingerprint, "notAfter": cert.not_after})
        obj["certificates"] = certificates
    pifs = ctx.links(rec.PIFs)
    obj["PIFs"] = pifs
    obj["$PIFs"] = pifs
    pcis = ctx.links(rec.PCIs)
    obj["PCIs"] = pcis
    obj["$PCIs"] = pcis
    pgpus = ctx.links(rec.PGPUs)
    obj["PGPUs"] = pgpus
    obj["$PGPUs"] = pgpus
    obj["$PBDs"] = ctx.links(rec.PBDs)
    return obj


def host_patch(ref: str, rec: Any, ctx: TransformContext) -> dict[str, Any]:
    patch = ctx.get(rec.pool_patch)
    obj: dict[str, Any] = {"type": "patch", "applied": rec.applied}
    if patch is not None:  # XO fails the object without its pool_patch; we keep it
        obj["enforceHomogeneity"] = patch.pool_applied
        obj["description"] = patch.name_description
        obj["name"] = patch.name_label
        obj["pool_patch"] = rec.pool_patch
        obj["size"] = patch.size
        obj["guidance"] = as_list(patch.after_apply_guidance)
    obj["time"] = rec.timestamp_applied
    ctx.put_link(obj, "$host", rec.host)
    return obj


def pool_patch(ref: str, rec: Any, ctx: TransformContext) -> dict[str, Any]:
    return {
        "id": ref,
        "dataUuid": rec.uuid,
        "description": rec.name_description,
        "guidance": as_list(rec.after_apply_guidance),
        "name": rec.name_label,
        "size": rec.size,
        "uuid": ref,
        "$host_patches": ctx.links(rec.host_patches),
    }


def pci(ref: str, rec: Any, ctx: TransformContext) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "PCI",
        "class_name": rec.class_name,
        "device_name": rec.device_name,
        "pci_id": rec.pci_id,
    }
    ctx.put_link(obj, "$host", rec.host)
    return obj


def pgpu(ref: str, rec: Any, ctx: TransformContext) -> dict[str, Any]:
    obj: dict[str, Any] = {"type": "PGPU", "dom0Access": rec.dom0_access}
    obj["enabledVgpuTypes"] = ctx.links(rec.enabled_VGPU_types)
    ctx.put_link(obj, "gpuGroup", rec.GPU_group)
    obj["isSystemDisplayDevice"] = rec.is_system_display_device
    ctx.put_link(obj, "pci", rec.PCI)
    obj["supportedVgpuTypes"] = ctx.links(rec.supported_VGPU_types)
    ctx.put_link(obj, "host", rec.host)
    ctx.put_link(obj, "$host", rec.host)
    vgpus = ctx.links(rec.resident_VGPUs)
    obj["vgpus"] = vgpus
    obj["$vgpus"] = vgpus
    return obj
