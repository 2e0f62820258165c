"""Static facts the scenario draws from: product versions per flavour, guest OSes, templates."""

from __future__ import annotations

from dataclasses import dataclass

FLAVOURS = ("xenserver", "xcp-ng")


def software_version(flavour: str, hostname: str) -> dict[str, str]:
    if flavour == "xcp-ng":
        return {
            "product_version": "8.3.0",
            "product_version_text": "8.3",
            "product_version_text_short": "8.3",
            "platform_name": "XCP",
            "platform_version": "3.4.0",
            "product_brand": "XCP-ng",
            "build_number": "cloud",
            "git_id": "0",
            "hostname": hostname,
            "date": "2024-10-01",
            "dbv": "2024.0806",
            "is_preview_release": "false",
            "xapi": "24.19",
            "xapi_build": "24.19.2",
            "xen": "4.17.5-3",
            "linux": "4.19.0+1",
            "xencenter_min": "2.21",
            "xencenter_max": "2.21",
            "network_backend": "openvswitch",
            "db_schema": "5.781",
        }
    return {
        "product_version": "8.2.1",
        "product_version_text": "8.2",
        "product_version_text_short": "8.2",
        "platform_name": "XCP",
        "platform_version": "3.2.1",
        "product_brand": "XenServer",
        "build_number": "release/yangtze/master/58",
        "git_id": "0",
        "hostname": hostname,
        "date": "2023-07-07",
        "dbv": "2019.0101",
        "is_preview_release": "false",
        "xapi": "1.20",
        "xapi_build": "1.20.5",
        "xen": "4.13.5-9.38",
        "linux": "4.19.0+1",
        "xencenter_min": "2.16",
        "xencenter_max": "2.16",
        "network_backend": "openvswitch",
        "db_schema": "5.603",
    }


def api_version(flavour: str) -> tuple[int, int]:
    return (2, 21) if flavour == "xcp-ng" else (2, 20)


@dataclass(frozen=True)
class GuestOs:
    template: str
    family: str  # linux | windows | other
    os_version: dict[str, str]
    firmware: str = "bios"
    disk_gib: int = 20
    memory_mib: int = 2048


GUESTS: tuple[GuestOs, ...] = (
    GuestOs(
        "Debian Bookworm 12",
        "linux",
        {
            "name": "Debian GNU/Linux 12 (bookworm)",
            "uname": "6.1.0-18-amd64",
            "distro": "debian",
            "major": "12",
            "minor": "5",
        },
        "uefi",
        10,
    ),
    GuestOs(
        "Ubuntu Jammy Jellyfish 22.04",
        "linux",
        {
            "name": "Ubuntu 22.04.4 LTS",
            "uname": "5.15.0-101-generic",
            "distro": "ubuntu",
            "major": "22",
            "minor": "04",
        },
        "bios",
        10,
    ),
    GuestOs(
        "Rocky Linux 9",
        "linux",
        {
            "name": "Rocky Linux 9.3 (Blue Onyx)",
            "uname": "5.14.0-362.8.1.el9_3.x86_64",
            "distro": "rocky",
            "major": "9",
            "minor": "3",
        },
        "uefi",
        10,
    ),
    GuestOs(
        "CentOS Stream 9",
        "linux",
        {
            "name": "CentOS Stream 9",
            "uname": "5.14.0-427.el9.x86_64",
            "distro": "centos",
            "major": "9",
            "minor": "0",
        },
        "bios",
        10,
    ),
    GuestOs(
        "Windows Server 2022 (64-bit)",
        "windows",
        {
            "name": "Microsoft Windows Server 2022 Standard|C:\\Windows|\\Device\\Harddisk0\\Partition2",
            "distro": "windows",
            "major": "10",
            "minor": "0",
            "spmajor": "0",
            "spminor": "0",
        },
        "uefi",
        32,
        4096,
    ),
    GuestOs(
        "Windows 10 (64-bit)",
        "windows",
        {
            "name": "Microsoft Windows 10 Pro|C:\\Windows|\\Device\\Harddisk0\\Partition2",
            "distro": "windows",
            "major": "10",
            "minor": "0",
            "spmajor": "0",
            "spminor": "0",
        },
        "uefi",
        32,
        4096,
    ),
    GuestOs("Other install media", "other", {}, "bios", 10, 1024),
)

VM_ROLES = (
    "web",
    "db",
    "app",
    "cache",
    "mail",
    "ci",
    "proxy",
    "backup",
    "vpn",
    "dns",
    "git",
    "monitor",
)

RECOMMENDATIONS = (
    '<restrictions><restriction field="memory-static-max" max="1649267441664"/>'
    '<restriction field="vcpus-max" max="64"/><restriction field="has-vendor-device" value="false"/>'
    '<restriction property="number-of-vbds" max="255"/><restriction property="number-of-vifs" max="7"/>'
    "</restrictions>"
)

SM_TYPES: tuple[tuple[str, str, str], ...] = (
    ("nfs", "NFS VHD", "SR plugin which stores disks as VHD files on a remote NFS filesystem"),
    (
        "ext",
        "Local EXT3 VHD",
        "SR plugin which represents disks as VHD files stored on a local EXT3 filesystem",
    ),
    (
        "lvm",
        "Local LVM",
        "SR plugin which represents disks as VHDs on Logical Volumes within a locally-attached Volume Group",
    ),
    (
        "lvmoiscsi",
        "LVM over iSCSI",
        "SR plugin which represents disks as Logical Volumes within a Volume Group created on an iSCSI LUN",
    ),
    ("iso", "ISO", "Handles CD images stored as files in iso format"),
    (
        "udev",
        "Local Device Passthrough",
        "SR plugin which represents removable media and devices as VDIs",
    ),
    ("smb", "SMB VHD", "SR plugin which stores disks as VHD files on a remote SMB filesystem"),
)

SM_FEATURES = {
    "SR_PROBE": 1, "SR_UPDATE": 1, "SR_SUPPORTS_LOCAL_CACHING": 1, "VDI_CREATE": 1, "VDI_DELETE": 1,
    "VDI_ATTACH": 1, "VDI_DETACH": 1, "VDI_UPDATE": 1, "VDI_CLONE": 1, "VDI_SNAPSHOT": 1,
    "VDI_RESIZE": 1, "VDI_MIRROR": 1, "VDI_GENERATE_CONFIG": 1, "VDI_RESET_ON_BOOT": 2,
    "VDI_CONFIG_CBT": 1, "ATOMIC_PAUSE": 1, "VDI_ACTIVATE": 1, "VDI_DEACTIVATE": 1, "THIN_PROVISIONING": 1,
}  # fmt: skip
