"""Which XAPI fields we keep, per class, and how each is stored.

A full XAPI VM record costs ~17 KB as a Python dict; the transforms read about a third of its
fields. Every record is trimmed to this whitelist the moment it arrives (see ``records.py``), so
the server holds 10,000 VMs in a few tens of MiB. A field that a transform starts reading must be
added here first (the unit tests check every transform only reads whitelisted fields).

Field kinds (they decide the storage and the default when a field is missing, as on older XAPI):

- ``TEXT``   free text, kept as is (names, descriptions, bodies)
- ``SYM``    short repeated string (enums, uuids, MACs): interned
- ``REF``    one OpaqueRef: interned, default ``OpaqueRef:NULL``
- ``REFS``   set of refs: tuple of interned refs
- ``STRS``   set of strings (tags, capabilities): tuple of interned strings
- ``MAP``    string map: deduplicated when small (see ``records.MapInterner``)
- ``BOOL``, ``INT``, ``FLOAT``: coerced from JSON-RPC/XML-RPC values (``"12"`` -> 12)
- ``TIME``   datetime: stored as Unix seconds (int/float) or None (epoch, unparsable)
"""

from __future__ import annotations

from typing import Any

TEXT = "text"
SYM = "sym"
REF = "ref"
REFS = "refs"
STRS = "strs"
MAP = "map"
BOOL = "bool"
INT = "int"
FLOAT = "float"
TIME = "time"

NULL_REF = "OpaqueRef:NULL"

KIND_DEFAULTS: dict[str, Any] = {
    TEXT: "",
    SYM: "",
    REF: NULL_REF,
    REFS: (),
    STRS: (),
    MAP: None,  # replaced by the shared empty map in records.py
    BOOL: False,
    INT: 0,
    FLOAT: 0.0,
    TIME: None,
}

# Sentinel default meaning "absent": the record keeps None so transforms can tell.
ABSENT = None


def _spec(**groups: str) -> dict[str, tuple[str, Any]]:
    """Build {field: (kind, default)} from ``kind="field field ..."`` groups."""
    out: dict[str, tuple[str, Any]] = {}
    for kind, names in groups.items():
        for name in names.split():
            out[name] = (kind, KIND_DEFAULTS[kind])
    return out


def _with_absent(spec: dict[str, tuple[str, Any]], *names: str) -> dict[str, tuple[str, Any]]:
    """Fields whose absence matters to a transform keep None when missing."""
    for name in names:
        spec[name] = (spec[name][0], ABSENT)
    return spec


# Field kinds must match XAPI's datamodel (tests/unit/objects/test_fields.py checks them).
FIELDS: dict[str, dict[str, tuple[str, Any]]] = {
    "pool": _spec(
        sym="uuid",
        text="name_label name_description",
        ref="master default_SR suspend_image_SR crash_dump_SR",
        map="other_config restrictions cpu_info current_operations",
        strs="ha_statefiles tags",
        bool="ha_enabled ha_reboot_vm_on_internal_shutdown migration_compression",
    ),
    "host": _with_absent(
        _spec(
            sym="uuid address hostname power_on_mode iscsi_iqn",
            text="name_label name_description",
            ref="metrics control_domain",
            refs="resident_VMs PIFs PBDs PCIs PGPUs patches updates updates_requiring_reboot "
            "certificates",
            map="software_version other_config chipset_info license_params cpu_info bios_strings "
            "current_operations license_server logging",
            strs="capabilities tags",
            bool="enabled",
        ),
        "iscsi_iqn",
        "certificates",
    ),
    # classes that make no object of their own keep no uuid (nothing links to them by uuid)
    "host_metrics": _spec(int="memory_total memory_free", bool="live"),
    "VM": _with_absent(
        _spec(
            sym="uuid power_state domain_type HVM_boot_policy ha_restart_priority recommendations",
            text="name_label name_description PV_args",
            ref="resident_on affinity snapshot_of suspend_VDI suspend_SR parent metrics "
            "guest_metrics",
            refs="VBDs VIFs VTPMs VGPUs snapshots",
            map="platform other_config HVM_boot_params VCPUs_params bios_strings "
            "blocked_operations current_operations xenstore_data",
            strs="tags",
            bool="is_a_template is_default_template is_a_snapshot is_control_domain "
            "has_vendor_device",
            int="VCPUs_max VCPUs_at_startup memory_static_min memory_static_max "
            "memory_dynamic_min memory_dynamic_max start_delay",
            time="snapshot_time",
        ),
        "domain_type",
    ),
    "VM_metrics": _spec(int="memory_actual VCPUs_number", time="start_time install_time"),
    "VM_guest_metrics": _with_absent(
        _spec(
            map="os_version PV_drivers_version networks other memory",
            bool="PV_drivers_up_to_date PV_drivers_detected",
        ),
        "PV_drivers_detected",
    ),
    "SR": _spec(
        sym="uuid type content_type",
        text="name_label name_description",
        refs="VDIs PBDs",
        map="other_config sm_config current_operations",
        strs="tags",
        bool="shared",
        int="physical_size physical_utilisation virtual_allocation",
    ),
    "PBD": _spec(
        sym="uuid", ref="host SR", map="device_config other_config", bool="currently_attached"
    ),
    "VDI": _spec(
        sym="uuid type",
        text="name_label name_description",
        ref="SR snapshot_of",
        refs="VBDs snapshots",
        map="sm_config other_config current_operations",
        strs="tags",
        bool="managed missing is_a_snapshot cbt_enabled",
        int="virtual_size physical_utilisation",
        time="snapshot_time",
    ),
    "VBD": _spec(
        sym="uuid device userdevice type mode",
        ref="VM VDI",
        bool="bootable currently_attached",
    ),
    "VIF": _spec(
        sym="uuid device MAC locking_mode qos_algorithm_type",
        ref="network VM",
        map="other_config qos_algorithm_params",
        strs="ipv4_allowed ipv6_allowed",
        bool="currently_attached",
        int="MTU",
    ),
    "network": _spec(
        sym="uuid bridge default_locking_mode",
        text="name_label name_description",
        refs="PIFs VIFs",
        map="other_config current_operations",
        strs="tags purpose",
        int="MTU",
    ),
    "PIF": _spec(
        sym="uuid device DNS IP MAC netmask gateway ip_configuration_mode "
        "ipv6_configuration_mode primary_address_type",
        ref="host network metrics bond_slave_of",
        refs="bond_master_of",
        strs="IPv6",
        bool="physical management currently_attached disallow_unplug",
        int="MTU VLAN",
    ),
    "PIF_metrics": _spec(sym="device_name", bool="carrier", int="speed"),
    "Bond": _spec(sym="uuid mode", ref="master", refs="slaves"),
    "message": _spec(sym="uuid name obj_uuid", text="body", time="timestamp"),
    "task": _spec(
        sym="uuid status",
        text="name_label name_description result",
        ref="resident_on",
        strs="allowed_operations",
        map="other_config current_operations",
        float="progress",
        time="created finished",
    ),
    "SM": _spec(
        sym="uuid type vendor driver_filename",
        text="name_label name_description",
        map="configuration features",
        strs="required_cluster_stack supported_image_formats",
    ),
    "host_patch": _spec(
        sym="uuid", ref="host pool_patch", bool="applied", time="timestamp_applied"
    ),
    "pool_patch": _spec(
        sym="uuid",
        text="name_label name_description",
        refs="host_patches",
        strs="after_apply_guidance",
        bool="pool_applied",
        int="size",
    ),
    "pool_update": _spec(
        sym="uuid key version",
        text="name_label name_description",
        ref="vdi",
        refs="hosts",
        strs="after_apply_guidance",
        int="installation_size",
    ),
    "Certificate": _spec(sym="uuid fingerprint", time="not_after"),
    "PCI": _spec(sym="uuid pci_id", text="class_name device_name", ref="host"),
    "PGPU": _spec(
        sym="uuid dom0_access",
        ref="host PCI GPU_group",
        refs="enabled_VGPU_types supported_VGPU_types resident_VGPUs",
        bool="is_system_display_device",
    ),
    "VTPM": _spec(sym="uuid", ref="VM"),
}

# Classes the PoolConnection must load with <cls>.get_all_records and watch with event.from.
# Every XAPI server we target (XenServer >= 7, XCP-ng >= 8) has all of them except where noted in
# OPTIONAL_CLASSES: load those only when system.listMethods lists <cls>.get_all_records.
CLASSES: tuple[str, ...] = (
    "pool",
    "host",
    "host_metrics",
    "VM",
    "VM_metrics",
    "VM_guest_metrics",
    "SR",
    "PBD",
    "VDI",
    "VBD",
    "VIF",
    "network",
    "PIF",
    "PIF_metrics",
    "Bond",
    "message",
    "task",
    "SM",
    "host_patch",
    "pool_patch",
    "pool_update",
    "PCI",
    "PGPU",
    "VTPM",
    "Certificate",
)
OPTIONAL_CLASSES: frozenset[str] = frozenset(
    {"pool_update", "Certificate", "VTPM", "PCI", "PGPU", "host_patch", "pool_patch", "SM"}
)

# event.from reports lowercased class names; map them back to the canonical spelling.
CANONICAL_CLASS: dict[str, str] = {name.lower(): name for name in FIELDS}


def canonical_class(name: str) -> str | None:
    """``"vm_guest_metrics"`` -> ``"VM_guest_metrics"``; None for a class we do not keep."""
    return CANONICAL_CLASS.get(name.lower())
