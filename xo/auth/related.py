"""Rights a method needs on objects related to the ones it resolves (pure).

Used in method declarations as ``requires=`` (see :mod:`xo.api.registry`): each function takes
``lookup(id) -> object | None`` and the resolved params, and returns ``(object id, action)``
pairs for the dispatcher to check with the resolved objects' rights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Lookup = Callable[[str], "dict[str, Any] | None"]
Rights = list[tuple["str | None", str]]


def disk_srs(lookup: Lookup, vm: dict[str, Any]) -> list[str]:
    """Ids of the SRs holding ``vm``'s disks (CD drives and empty drives skipped), in order."""
    found: dict[str, None] = {}
    for vbd_id in vm.get("$VBDs") or ():
        vbd = lookup(vbd_id)
        if vbd is None or vbd.get("is_cd_drive") or not vbd.get("VDI"):
            continue
        vdi = lookup(vbd["VDI"])
        if vdi is not None and vdi.get("$SR"):
            found[vdi["$SR"]] = None
    return list(found)


def operate_disk_srs(param: str) -> Callable[[Lookup, dict[str, Any]], Rights]:
    """``operate`` on the SRs of the disks of the VM resolved as ``param``."""

    def requires(lookup: Lookup, params: dict[str, Any]) -> Rights:
        return [(sr, "operate") for sr in disk_srs(lookup, params[param])]

    return requires


def on_link(param: str, link: str, action: str) -> Callable[[Lookup, dict[str, Any]], Rights]:
    """``action`` on the object that the resolved ``param``'s ``link`` field names."""

    def requires(lookup: Lookup, params: dict[str, Any]) -> Rights:
        return [(params[param].get(link), action)]

    return requires
