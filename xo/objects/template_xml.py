"""The two XML strings XO parses on VM records: ``recommendations`` and template ``disks``.

Both are identical across the thousands of VMs created from one template, so results are cached
per distinct string (bounded LRU). Malformed XML never fails an object: it reads as "no data".
Results are shared between objects and must not be mutated.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from typing import Any

from .numbers import js_number

# Far more than the distinct templates of any pool.
_CACHE_SIZE = 512
# A recommendations/disks string is a few KB; refuse pathological ones before parsing.
_MAX_XML = 256 * 1024


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _restrictions(recommendations: str) -> tuple[tuple[str, str], ...] | None:
    if not recommendations or len(recommendations) > _MAX_XML:
        return None
    try:
        root = ET.fromstring(recommendations)
    except ET.ParseError:
        return None
    if root.tag != "restrictions":
        return None
    found = root.findall("restriction")
    if not found:
        return None
    return tuple((r.get("field", ""), r.get("value", "")) for r in found)


def is_firmware_supported(recommendations: str, firmware: str | None) -> bool:
    """False only when recommendations say ``supports-<firmware>`` is ``no``."""
    restrictions = _restrictions(recommendations)
    if restrictions is None:
        return True
    wanted = f"supports-{firmware if firmware is not None else 'undefined'}"
    for field, value in restrictions:
        if field == wanted:
            return value != "no"
    return True


@functools.lru_cache(maxsize=_CACHE_SIZE)
def template_disks(disks_xml: str) -> list[dict[str, Any]]:
    """``other_config.disks`` (``<provision><disk .../></provision>``) as XO's template_info.disks."""
    if not disks_xml or len(disks_xml) > _MAX_XML:
        return []
    try:
        root = ET.fromstring(disks_xml)
    except ET.ParseError:
        return []
    if root.tag != "provision":
        return []
    disks = []
    for element in root.findall("disk"):
        disk: dict[str, Any] = dict(element.attrib)
        disk["bootable"] = disk.get("bootable") == "true"
        disk["size"] = js_number(disk.get("size"))
        disk["SR"] = disk.pop("sr", None)
        if disk["SR"] is None:
            del disk["SR"]
        disks.append(disk)
    return disks
