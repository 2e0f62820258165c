"""A small factory of realistic XAPI records (full records, as get_all_records returns them).

Records carry the fields xapi sends, including many the transforms never read, so memory and
trimming are measured on realistic input. Deterministic: uuids derive from a counter.
"""

from __future__ import annotations

import uuid as uuid_mod
from typing import Any

NULL = "OpaqueRef:NULL"

BIOS_STRINGS = {
    "bios-vendor": "Xen",
    "bios-version": "",
    "system-manufacturer": "Xen",
    "system-product-name": "HVM domU",
    "system-version": "",
    "system-serial-number": "",
    "baseboard-manufacturer": "",
    "baseboard-product-name": "",
    "enclosure-asset-tag": "",
    "hp-rombios": "",
    "oem-1": "Xen",
    "oem-2": "MS_VM_CERT/SHA1/bdbeb6e0a816d43fa6d3fe8aaef04c2bad9d3e3d",
}
PLATFORM = {
    "timeoffset": "0",
    "device-model": "qemu-upstream-compat",
    "videoram": "8",
    "hpet": "true",
    "secureboot": "false",
    "vga": "std",
    "apic": "true",
    "viridian": "false",
    "nx": "true",
    "pae": "true",
    "acpi": "1",
    "cores-per-socket": "2",
}
RECOMMENDATIONS = (
    '<restrictions><restriction field="memory-static-max" max="137438953472" />'
    '<restriction field="vcpus-max" max="32" /><restriction property="number-of-vbds" max="255" />'
    '<restriction property="number-of-vifs" max="7" /><restriction field="has-vendor-device" '
    'value="false" /><restriction field="supports-uefi" value="yes" /></restrictions>'
)


class Factory:
    """Builds one pool's records; ``records`` is {class: {ref: record}}."""

    def __init__(self, seed: int = 0) -> None:
        self._n = seed * 1_000_000
        self.records: dict[str, dict[str, dict[str, Any]]] = {}

    def _uuid(self) -> str:
        self._n += 1
        return str(uuid_mod.UUID(int=(0x5EED << 96) + self._n))

    def add(self, cls: str, fields: dict[str, Any]) -> str:
        ref = "OpaqueRef:" + self._uuid()
        fields.setdefault("uuid", self._uuid())
        self.records.setdefault(cls, {})[ref] = fields
        return ref

    def get(self, ref: str) -> dict[str, Any]:
        for by_ref in self.records.values():
            if ref in by_ref:
                return by_ref[ref]
        raise KeyError(ref)

    # -- building blocks ------------------------------------------------------------------------

    def pool(self, master: str, name: str = "pool-1") -> str:
        return self.add(
            "pool",
            {
                "name_label": name,
                "name_description": "",
                "master": master,
                "default_SR": NULL,
                "suspend_image_SR": NULL,
                "crash_dump_SR": NULL,
                "other_config": {"auto_poweron": "false", "memory-ratio-hvm": "0.25"},
                "ha_enabled": False,
                "ha_configuration": {},
                "ha_statefiles": [],
                "restrictions": {"restrict_zstd_export": "false", "restrict_vtpm": "false"},
                "tags": [],
                "cpu_info": {"cpu_count": "16", "socket_count": "2", "vendor": "GenuineIntel"},
                "current_operations": {},
                "allowed_operations": [],
                "migration_compression": False,
                "ha_reboot_vm_on_internal_shutdown": True,
            },
        )

    def host(self, name: str, live: bool = True, brand: str = "XCP-ng") -> str:
        metrics = self.add(
            "host_metrics",
            {
                "memory_total": 68719476736 - 12345,
                "memory_free": 34359738368,
                "live": live,
                "last_updated": "20240101T00:00:00Z",
                "other_config": {},
            },
        )
        return self.add(
            "host",
            {
                "name_label": name,
                "name_description": "Default install",
                "hostname": name,
                "address": "10.0.0." + str(self._n % 250),
                "enabled": True,
                "metrics": metrics,
                "control_domain": NULL,
                "software_version": {
                    "product_brand": brand,
                    "product_version": "8.2.1",
                    "platform_version": "3.2.1",
                    "build_number": "release/yangtze/master/58",
                    "xapi": "1.20",
                },
                "other_config": {
                    "boot_time": "1700000000.",
                    "agent_start_time": "1700000100.",
                    "iscsi_iqn": "iqn.2024-01.com.example:abc",
                },
                "chipset_info": {"iommu": "false"},
                "license_params": {"restrict_zstd_export": "false", "expiry": "20301231T00:00:00Z"},
                "license_server": {"address": "localhost", "port": "27000"},
                "logging": {},
                "bios_strings": dict(BIOS_STRINGS),
                "cpu_info": {"cpu_count": "8", "socket_count": "1", "modelname": "Xeon"},
                "capabilities": ["xen-3.0-x86_64", "hvm-3.0-x86_64"],
                "current_operations": {},
                "allowed_operations": ["provision", "evacuate"],
                "resident_VMs": [],
                "PIFs": [],
                "PBDs": [],
                "PCIs": [],
                "PGPUs": [],
                "patches": [],
                "updates": [],
                "updates_requiring_reboot": [],
                "certificates": [],
                "power_on_mode": "",
                "tags": [],
                "iscsi_iqn": "iqn.2024-01.com.example:abc",
                "API_version_major": 2,
                "API_version_minor": 21,
            },
        )

    def sr(self, name: str, hosts: list[str], shared: bool, sr_type: str = "ext") -> str:
        ref = self.add(
            "SR",
            {
                "name_label": name,
                "name_description": "",
                "type": sr_type,
                "content_type": "user",
                "shared": shared,
                "physical_size": 1 << 40,
                "physical_utilisation": 1 << 30,
                "virtual_allocation": 1 << 32,
                "VDIs": [],
                "PBDs": [],
                "other_config": {},
                "sm_config": {"devserial": "scsi-123"},
                "tags": [],
                "current_operations": {},
                "allowed_operations": ["scan", "destroy"],
            },
        )
        for host in hosts:
            pbd = self.add(
                "PBD",
                {
                    "host": host,
                    "SR": ref,
                    "device_config": {"device": "/dev/sdb", "password": "x"},
                    "currently_attached": True,
                    "other_config": {},
                },
            )
            self.get(ref)["PBDs"].append(pbd)
            self.get(host)["PBDs"].append(pbd)
        return ref

    def network(self, name: str, hosts: list[str]) -> str:
        ref = self.add(
            "network",
            {
                "name_label": name,
                "name_description": "",
                "bridge": "xenbr0",
                "MTU": 1500,
                "PIFs": [],
                "VIFs": [],
                "other_config": {"automatic": "true"},
                "tags": [],
                "purpose": [],
                "default_locking_mode": "unlocked",
                "current_operations": {},
            },
        )
        for host in hosts:
            metrics = self.add(
                "PIF_metrics",
                {
                    "carrier": True,
                    "speed": 1000,
                    "device_name": "Ethernet Controller",
                    "vendor_name": "Intel",
                    "duplex": True,
                },
            )
            pif = self.add(
                "PIF",
                {
                    "device": "eth0",
                    "host": host,
                    "network": ref,
                    "metrics": metrics,
                    "MAC": "aa:bb:cc:dd:ee:ff",
                    "MTU": 1500,
                    "VLAN": -1,
                    "IP": "10.0.0.2",
                    "netmask": "255.255.255.0",
                    "gateway": "10.0.0.1",
                    "DNS": "10.0.0.1",
                    "IPv6": [],
                    "ip_configuration_mode": "DHCP",
                    "ipv6_configuration_mode": "None",
                    "primary_address_type": "IPv4",
                    "physical": True,
                    "management": True,
                    "currently_attached": True,
                    "disallow_unplug": False,
                    "bond_master_of": [],
                    "bond_slave_of": NULL,
                },
            )
            self.get(ref)["PIFs"].append(pif)
            self.get(host)["PIFs"].append(pif)
        return ref

    def vdi(self, sr: str, name: str = "disk") -> str:
        ref = self.add(
            "VDI",
            {
                "name_label": name,
                "name_description": "",
                "SR": sr,
                "VBDs": [],
                "snapshots": [],
                "snapshot_of": NULL,
                "is_a_snapshot": False,
                "snapshot_time": "19700101T00:00:00Z",
                "virtual_size": 10 << 30,
                "physical_utilisation": 3 << 30,
                "type": "user",
                "sharable": False,
                "read_only": False,
                "managed": True,
                "missing": False,
                "cbt_enabled": False,
                "sm_config": {"vhd-parent": "11111111-2222-3333-4444-555555555555"},
                "other_config": {},
                "xenstore_data": {},
                "tags": [],
                "location": "loc",
                "current_operations": {},
                "allowed_operations": ["clone", "copy", "snapshot"],
            },
        )
        self.get(sr)["VDIs"].append(ref)
        return ref

    def vm(
        self,
        name: str,
        *,
        host: str | None,
        sr: str,
        network: str,
        disks: int = 2,
        running: bool | None = None,
        template: bool = False,
        default: bool = False,
    ) -> str:
        running = (host is not None) if running is None else running
        metrics = self.add(
            "VM_metrics",
            {
                "memory_actual": 2 << 30,
                "VCPUs_number": 2,
                "VCPUs_utilisation": {"0": 0.1},
                "start_time": "20240301T10:00:00Z",
                "install_time": "20240101T10:00:00Z",
                "last_updated": "19700101T00:00:00Z",
                "state": [],
                "hvm": True,
                "VCPUs_CPU": {},
                "VCPUs_params": {},
                "other_config": {},
            },
        )
        guest = NULL
        ip = f"10.1.{self._n // 250 % 250}.{self._n % 250}"
        if running:
            guest = self.add(
                "VM_guest_metrics",
                {
                    "os_version": {
                        "name": "Debian GNU/Linux 12",
                        "distro": "debian",
                        "major": "12",
                    },
                    "PV_drivers_version": {
                        "major": "8",
                        "minor": "2",
                        "micro": "0",
                        "build": "100",
                    },
                    "PV_drivers_up_to_date": True,
                    "PV_drivers_detected": True,
                    "memory": {},
                    "disks": {},
                    "other": {"feature-static-ip-setting": "1"},
                    "networks": {"0/ip": ip, "0/ipv4/0": ip, "0/ipv6/0": "fe80::1"},
                    "live": True,
                    "last_updated": "20240301T10:00:05Z",
                    "other_config": {},
                    "can_use_hotplug_vbd": "yes",
                    "can_use_hotplug_vif": "yes",
                },
            )
        vm_uuid = self._uuid()
        ref = self.add(
            "VM",
            {
                "uuid": vm_uuid,
                "name_label": name,
                "name_description": "a test VM",
                "power_state": "Running" if running else "Halted",
                "resident_on": host if running and host else NULL,
                "affinity": NULL,
                "is_a_template": template,
                "is_default_template": default,
                "is_a_snapshot": False,
                "is_control_domain": False,
                "snapshot_of": NULL,
                "snapshot_time": "19700101T00:00:00Z",
                "snapshots": [],
                "parent": NULL,
                "suspend_VDI": NULL,
                "suspend_SR": NULL,
                "domain_type": "hvm",
                "HVM_boot_policy": "BIOS order",
                "HVM_boot_params": {"order": "cdn", "firmware": "bios"},
                "HVM_shadow_multiplier": 1.0,
                "VCPUs_max": 4,
                "VCPUs_at_startup": 2,
                "VCPUs_params": {"weight": "256"},
                "memory_static_min": 1 << 30,
                "memory_static_max": 4 << 30,
                "memory_dynamic_min": 2 << 30,
                "memory_dynamic_max": 2 << 30,
                "memory_overhead": 20 << 20,
                "memory_target": 2 << 30,
                "platform": dict(PLATFORM),
                "other_config": {
                    "base_template_name": "Debian Bookworm 12",
                    "mac_seed": str(uuid_mod.UUID(int=self._n)),
                    "install-methods": "cdrom,nfs,http,ftp",
                    "import_task": NULL,
                },
                "bios_strings": dict(BIOS_STRINGS),
                "blocked_operations": {},
                "allowed_operations": [
                    "changing_dynamic_range",
                    "clean_reboot",
                    "clean_shutdown",
                    "hard_reboot",
                    "hard_shutdown",
                    "pause",
                    "snapshot",
                    "suspend",
                    "checkpoint",
                ],
                "current_operations": {},
                "ha_restart_priority": "",
                "has_vendor_device": False,
                "tags": ["prod"],
                "VBDs": [],
                "VIFs": [],
                "VTPMs": [],
                "VGPUs": [],
                "VUSBs": [],
                "consoles": [],
                "attached_PCIs": [],
                "xenstore_data": {"vm-data": "", "vm-data/mmio-hole-size": "268435456"},
                "PV_args": "",
                "PV_bootloader": "",
                "PV_kernel": "",
                "PV_ramdisk": "",
                "PV_legacy_args": "",
                "PV_bootloader_args": "",
                "recommendations": RECOMMENDATIONS,
                "start_delay": 0,
                "shutdown_delay": 0,
                "order": 0,
                "user_version": 1,
                "actions_after_shutdown": "destroy",
                "actions_after_reboot": "restart",
                "actions_after_crash": "restart",
                "metrics": metrics,
                "guest_metrics": guest,
                "domid": 5 if running else -1,
                "NVRAM": {},
                "last_boot_CPU_flags": {"vendor": "GenuineIntel", "features": "1fcbfbff-f7fa3223"},
                "hardware_platform_version": 0,
                "requires_reboot": False,
            },
        )
        if template:
            self.get(ref)["other_config"]["default_template"] = "true" if default else "false"
        for position in range(disks):
            vdi = self.vdi(sr, f"{name} disk {position}")
            vbd = self.add(
                "VBD",
                {
                    "VM": ref,
                    "VDI": vdi,
                    "device": f"xvd{'abcdefgh'[position]}",
                    "userdevice": str(position),
                    "bootable": position == 0,
                    "mode": "RW",
                    "type": "Disk",
                    "empty": False,
                    "currently_attached": running,
                    "unpluggable": True,
                    "other_config": {},
                    "qos_algorithm_type": "",
                    "qos_algorithm_params": {},
                    "storage_lock": False,
                    "status_code": 0,
                },
            )
            self.get(ref)["VBDs"].append(vbd)
            self.get(vdi)["VBDs"].append(vbd)
        vif = self.add(
            "VIF",
            {
                "device": "0",
                "network": network,
                "VM": ref,
                "MAC": "02:00:00:00:00:01",
                "MTU": 1500,
                "currently_attached": running,
                "locking_mode": "network_default",
                "ipv4_allowed": [],
                "ipv6_allowed": [],
                "other_config": {},
                "qos_algorithm_type": "",
                "qos_algorithm_params": {},
                "status_code": 0,
            },
        )
        self.get(ref)["VIFs"].append(vif)
        self.get(network)["VIFs"].append(vif)
        if running and host:
            self.get(host)["resident_VMs"].append(ref)
        return ref


def build_pool(vms: int = 10, hosts: int = 2, seed: int = 0) -> tuple[Factory, dict[str, Any]]:
    """A pool with ``hosts`` hosts, a local SR each, a shared SR, one network, ``vms`` VMs
    (even ones running on a host, odd ones halted with disks on the shared SR; every fifth
    halted on the first host's local SR). Returns (factory, named refs)."""
    factory = Factory(seed)
    host_refs = [factory.host(f"host-{i}") for i in range(hosts)]
    pool = factory.pool(host_refs[0])
    local_srs = [factory.sr(f"local-{i}", [h], shared=False) for i, h in enumerate(host_refs)]
    shared_sr = factory.sr("nfs", host_refs, shared=True, sr_type="nfs")
    network = factory.network("Pool-wide network", host_refs)
    vm_refs = []
    for i in range(vms):
        running = i % 2 == 0
        host = host_refs[i % hosts] if running else None
        sr = local_srs[0] if (not running and i % 5 == 0) else shared_sr
        vm_refs.append(factory.vm(f"vm-{i}", host=host, sr=sr, network=network))
    return factory, {
        "pool": pool,
        "hosts": host_refs,
        "local_srs": local_srs,
        "shared_sr": shared_sr,
        "network": network,
        "vms": vm_refs,
    }
