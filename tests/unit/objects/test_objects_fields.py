"""The field whitelist agrees with XAPI's datamodel, and covers what the transforms read."""

from __future__ import annotations

import pytest

from xo.objects import fields
from xo.objects.records import RECORD_TYPES, Trimmer
from xo.sim.datamodel import FIELDS as XAPI_FIELDS

# our kind -> predicate on XAPI's type string (xo/sim/datamodel.py, from xenapi.json)
KIND_MATCHES = {
    fields.TEXT: lambda t: t == "string",
    fields.SYM: lambda t: t == "string" or t.startswith("enum "),
    fields.REF: lambda t: t.endswith(" ref") and " set" not in t,
    fields.REFS: lambda t: t.endswith(" ref set"),
    fields.STRS: lambda t: t == "string set" or (t.startswith("enum ") and t.endswith(" set")),
    fields.MAP: lambda t: t.startswith("(") and ") map" in t,
    fields.BOOL: lambda t: t == "bool",
    fields.INT: lambda t: t == "int",
    fields.FLOAT: lambda t: t == "float",
    fields.TIME: lambda t: t == "datetime",
}

# fields XAPI types differently from how xapi actually serialises or XO reads them
EXCEPTIONS = {
    ("pool", "ha_statefiles"),  # "string set" of VDI refs
    ("VM", "recommendations"),  # an XML string, stored interned
    ("host", "iscsi_iqn"),
}
# read by XO, added to XAPI after the datamodel snapshot the simulator is generated from
NEWER_FIELDS = {("SM", "supported_image_formats"), ("pool", "ha_reboot_vm_on_internal_shutdown")}


@pytest.mark.parametrize("cls", sorted(fields.FIELDS))
def test_field_kinds_match_xapi_types(cls):
    xapi = {name: type_ for name, type_, *_ in XAPI_FIELDS[cls]}
    for name, (kind, _) in fields.FIELDS[cls].items():
        if (cls, name) in NEWER_FIELDS:
            continue
        assert name in xapi, f"{cls}.{name} is not an XAPI field"
        if (cls, name) in EXCEPTIONS:
            continue
        assert KIND_MATCHES[kind](xapi[name]), f"{cls}.{name}: {kind} vs {xapi[name]}"


def test_record_of_an_empty_snapshot_has_every_field_defaulted():
    trimmer = Trimmer()
    for cls, record_type in RECORD_TYPES.items():
        record = trimmer.trim(cls, {})
        assert type(record) is record_type and record.xapi_class == cls
        assert record.as_dict().keys() == fields.FIELDS[cls].keys()


def test_trim_interns_and_shares():
    trimmer = Trimmer()
    platform = {"acpi": "1", "vga": "std"}
    first = trimmer.trim("VM", {"uuid": "u1", "platform": dict(platform), "VBDs": ["OpaqueRef:a"]})
    second = trimmer.trim("VM", {"uuid": "u2", "platform": dict(platform), "VBDs": ["OpaqueRef:a"]})
    assert first.platform is second.platform  # identical small maps are shared
    assert first.VBDs == ("OpaqueRef:a",) and first.VBDs[0] is second.VBDs[0]
    assert first.resident_on == "OpaqueRef:NULL" and first.VCPUs_max == 0
    coerced = trimmer.trim("VM", {"VCPUs_max": "8", "is_a_template": "true", "tags": None})
    assert coerced.VCPUs_max == 8 and coerced.is_a_template is True and coerced.tags == ()
    # True and 1 never share a map: JSON tells them apart
    a = trimmer.trim("SM", {"features": {"x": 1}}).features
    b = trimmer.trim("SM", {"features": {"x": True}}).features
    assert a == {"x": 1} and b["x"] is True
