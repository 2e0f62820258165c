"""network, PIF, VIF and Bond records -> XO objects (xo-server's transforms)."""

from __future__ import annotations

from typing import Any

from .context import TransformContext, as_list
from .fields import NULL_REF
from .numbers import js_number


def network(ref: str, rec: Any, ctx: TransformContext) -> dict[str, Any]:
    return {
        "automatic": rec.other_config.get("automatic") == "true",
        "bridge": rec.bridge,
        "current_operations": rec.current_operations,
        "defaultIsLocked": rec.default_locking_mode == "disabled",
        "MTU": rec.MTU,
        "name_description": rec.name_description,
        "name_label": rec.name_label,
        "other_config": rec.other_config,
        "tags": as_list(rec.tags),
        "PIFs": ctx.links(rec.PIFs),
        "VIFs": ctx.links(rec.VIFs),
        "nbd": "nbd" in rec.purpose,
        "insecureNbd": "insecure_nbd" in rec.purpose,
    }


def pif(ref: str, rec: Any, ctx: TransformContext) -> dict[str, Any]:
    metrics = ctx.get(rec.metrics)
    obj: dict[str, Any] = {
        "type": "PIF",
        "attached": rec.currently_attached,
        "isBondMaster": bool(rec.bond_master_of),
        "isBondSlave": rec.bond_slave_of != NULL_REF,
        "device": rec.device,
    }
    if metrics is not None:
        obj["deviceName"] = metrics.device_name
    obj["dns"] = rec.DNS
    obj["disallowUnplug"] = rec.disallow_unplug
    obj["gateway"] = rec.gateway
    obj["ip"] = rec.IP
    obj["ipv6"] = as_list(rec.IPv6)
    obj["mac"] = rec.MAC
    obj["management"] = rec.management
    obj["carrier"] = bool(metrics is not None and metrics.carrier)
    obj["mode"] = rec.ip_configuration_mode
    obj["ipv6Mode"] = rec.ipv6_configuration_mode
    obj["mtu"] = rec.MTU
    obj["netmask"] = rec.netmask
    obj["physical"] = rec.physical
    obj["primaryAddressType"] = rec.primary_address_type
    obj["vlan"] = rec.VLAN
    if metrics is not None:
        obj["speed"] = metrics.speed
    ctx.put_link(obj, "$host", rec.host)
    ctx.put_link(obj, "$network", rec.network)
    return obj


def vif(ref: str, rec: Any, ctx: TransformContext) -> dict[str, Any]:
    tx_checksumming = rec.other_config.get("ethtool-tx")
    obj: dict[str, Any] = {
        "type": "VIF",
        "allowedIpv4Addresses": as_list(rec.ipv4_allowed),
        "allowedIpv6Addresses": as_list(rec.ipv6_allowed),
        "attached": rec.currently_attached,
        "device": rec.device,
        "lockingMode": rec.locking_mode,
        "MAC": rec.MAC,
        "MTU": rec.MTU,
        "other_config": rec.other_config,
        "txChecksumming": tx_checksumming not in ("false", "off"),
    }
    if rec.qos_algorithm_type == "ratelimit":
        kbps = rec.qos_algorithm_params.get("kbps")
        if kbps is not None:
            obj["rateLimit"] = js_number(kbps)
    ctx.put_link(obj, "$network", rec.network)
    ctx.put_link(obj, "$VM", rec.VM)
    return obj


def bond(ref: str, rec: Any, ctx: TransformContext) -> dict[str, Any]:
    obj: dict[str, Any] = {"type": "bond"}
    ctx.put_link(obj, "master", rec.master)
    obj["mode"] = rec.mode
    return obj
