"""The model side of XVA export/import: ova.xml objects <-> database records (reference §6.1).

Export: the VM, its VBDs, the VDIs it would stream (disks, not CDs or ISO SRs), VIFs, networks,
SRs and metrics, each as ``{class, id: "Ref:N", snapshot}`` with refs to exported objects
rewritten to their ``Ref:N`` and every other ref to ``OpaqueRef:NULL``.

Import: objects -> new VDIs on the target SR (empty; the stream fills them), VMs (Halted, fresh
uuids unless ``restore``), VBDs, VIFs attached to an existing network with the same bridge or name.
Everything created is listed so a failed import can be rolled back completely.
"""

from __future__ import annotations

from typing import Any

from xo.sim import vm_ops
from xo.sim.db import Database
from xo.sim.disks import DiskStore
from xo.sim.errors import XapiFailure
from xo.sim.params import coerce
from xo.sim.schema import NULL_REF, SCHEMAS, TypeInfo
from xo.sim.tasks import now
from xo.sim.vm_records import create_vm_metrics

# Fields never taken from an imported record (identity, runtime state, rebuilt relations).
_IMPORT_SKIP = frozenset({
    "uuid", "allowed_operations", "current_operations", "resident_on", "scheduled_to_be_resident_on",
    "consoles", "VIFs", "VBDs", "VUSBs", "crash_dumps", "VTPMs", "metrics", "guest_metrics",
    "snapshots", "children", "parent", "suspend_VDI", "VGPUs", "attached_PCIs", "blobs", "domid",
    "appliance", "protection_policy", "snapshot_schedule", "SR", "VM", "VDI", "network",
    "location", "currently_attached", "power_state", "snapshot_of", "affinity", "suspend_SR",
})  # fmt: skip


def _is_ref_type(t: TypeInfo) -> bool:
    return t.kind == "ref"


def _rewrite(value: Any, t: TypeInfo, ids: dict[str, str]) -> Any:
    if t.kind == "ref":
        return ids.get(value, NULL_REF)
    if t.kind == "set" and t.value is not None and t.value.kind == "ref":
        return [ids[v] for v in value if v in ids]
    if t.kind == "map" and t.key is not None and t.key.kind == "ref":
        return {}
    return value


def export_objects(db: Database, vm_ref: str, *, preserve_power_state: bool = False) -> tuple[list[dict], list[tuple[str, str]]]:
    vm = db.get("VM", vm_ref)
    chosen: list[tuple[str, str]] = [("VM", vm_ref)]
    disks: list[str] = []
    for cls, field in (("VM_metrics", "metrics"), ("VM_guest_metrics", "guest_metrics")):
        if vm[field] != NULL_REF and db.exists(cls, vm[field]):
            chosen.append((cls, vm[field]))
    srs: list[str] = []
    for vbd in vm["VBDs"]:
        chosen.append(("VBD", vbd))
        vbd_rec = db.get("VBD", vbd)
        vdi = vbd_rec["VDI"]
        if vdi == NULL_REF or vbd_rec["type"] == "CD" or not db.exists("VDI", vdi):
            continue
        sr = db.get("VDI", vdi)["SR"]
        if db.get("SR", sr)["content_type"] == "iso":
            continue
        chosen.append(("VDI", vdi))
        disks.append(vdi)
        if sr not in srs:
            srs.append(sr)
    chosen.extend(("SR", sr) for sr in srs)
    networks: list[str] = []
    for vif in vm["VIFs"]:
        chosen.append(("VIF", vif))
        network = db.get("VIF", vif)["network"]
        if network not in networks and db.exists("network", network):
            networks.append(network)
    chosen.extend(("network", n) for n in networks)
    ids = {ref: f"Ref:{n}" for n, (_, ref) in enumerate(chosen)}
    objects = []
    for cls, ref in chosen:
        fields = SCHEMAS[cls].fields
        snapshot = {name: _rewrite(value, fields[name].type, ids) for name, value in db.get(cls, ref).items()}
        if cls == "VM":
            snapshot["current_operations"] = {}
            if not preserve_power_state:
                snapshot["power_state"] = "Halted"
        objects.append({"class": cls, "id": ids[ref], "snapshot": snapshot})
    return objects, [(ids[vdi], vdi) for vdi in disks]


def _fields(cls: str, snapshot: Any) -> dict[str, Any]:
    """Typed fields of an imported snapshot; values that do not fit the type are dropped."""
    if not isinstance(snapshot, dict):
        return {}
    schema = SCHEMAS[cls]
    result: dict[str, Any] = {}
    for name, value in snapshot.items():
        f = schema.fields.get(name)
        if f is None or name in _IMPORT_SKIP or _is_ref_type(f.type):
            continue
        if f.type.kind == "set" and f.type.value is not None and f.type.value.kind == "ref":
            continue
        try:
            result[name] = coerce(f.type, value)
        except XapiFailure:
            continue
    return result


def _snapshot(obj: dict) -> dict[str, Any]:
    snapshot = obj.get("snapshot")
    return snapshot if isinstance(snapshot, dict) else {}


def _pick_network(db: Database, snapshot: dict[str, Any]) -> str:
    networks = db.all("network")
    for key in ("bridge", "name_label"):
        wanted = snapshot.get(key)
        for ref, rec in networks.items():
            if wanted and rec[key] == wanted:
                return ref
    for ref, rec in networks.items():
        if rec["other_config"].get("is_host_internal_management_network") != "true":
            return ref
    raise XapiFailure("IMPORT_ERROR", "no network to attach the VIFs to")


def import_objects(
    db: Database, disks: DiskStore, objects: list[dict], sr_ref: str, *, restore: bool = False
) -> tuple[list[str], dict[str, str], list[str]]:
    """Create what ova.xml describes. Returns (non-snapshot VM refs, VDI id -> ref, created)."""
    created: list[str] = []
    try:
        return _import(db, disks, objects, sr_ref, restore, created) + (created,)
    except BaseException:
        destroy_created(db, disks, created)
        raise


def _import(db: Database, disks: DiskStore, objects: list[dict], sr_ref: str, restore: bool, created: list[str]) -> tuple[list[str], dict[str, str]]:
    db.get("SR", sr_ref)
    by_class: dict[str, list[dict]] = {}
    for obj in objects:
        if not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or obj.get("class") not in SCHEMAS:
            continue
        by_class.setdefault(obj["class"], []).append(obj)
    if not by_class.get("VM"):
        raise XapiFailure("IMPORT_ERROR", "ova.xml describes no VM")
    vdis: dict[str, str] = {}
    for obj in by_class.get("VDI", []):
        fields = _fields("VDI", obj.get("snapshot"))
        size = int(fields.get("virtual_size", 0))
        uuid = _snapshot(obj).get("uuid") if restore else None
        if not uuid or db.find_by_uuid("VDI", uuid):
            uuid = db.ids.uuid()
        ref = db.create("VDI", {**fields, "uuid": uuid, "location": uuid, "SR": sr_ref, "managed": True, "is_a_snapshot": False})  # fmt: skip
        created.append(ref)
        disks.create_empty(ref, size)
        vdis[obj["id"]] = ref
    vms: dict[str, str] = {}
    originals: list[str] = []
    for obj in by_class["VM"]:
        snapshot = _snapshot(obj)
        fields = _fields("VM", snapshot)
        uuid = snapshot.get("uuid") if restore else None
        if not uuid or db.find_by_uuid("VM", uuid):
            uuid = db.ids.uuid()
        fields.update(uuid=uuid, power_state="Halted", domid=-1, is_control_domain=False)
        ref = db.create("VM", fields)
        created.append(ref)
        metrics = create_vm_metrics(db, db.get("VM", ref), running=False, now=now())
        created.append(metrics)
        db.update("VM", ref, metrics=metrics)
        vms[obj["id"]] = ref
        if not fields.get("is_a_snapshot"):
            originals.append(ref)
    for obj in by_class["VM"]:
        snapshot = _snapshot(obj)
        parent = vms.get(str(snapshot.get("snapshot_of", "")))
        if parent is not None:
            db.update("VM", vms[obj["id"]], snapshot_of=parent)
    for obj in by_class.get("VBD", []):
        snapshot = _snapshot(obj)
        vm = vms.get(str(snapshot.get("VM", "")))
        if vm is None:
            continue
        fields = _fields("VBD", snapshot)
        vdi = vdis.get(str(snapshot.get("VDI", "")), NULL_REF)
        if vdi == NULL_REF and fields.get("type", "Disk") != "CD":
            continue
        fields.update(VM=vm, VDI=vdi, empty=vdi == NULL_REF, currently_attached=False)
        created.append(db.create("VBD", fields))
    for obj in by_class.get("VIF", []):
        snapshot = _snapshot(obj)
        vm = vms.get(str(snapshot.get("VM", "")))
        if vm is None:
            continue
        network_obj = next((n for n in by_class.get("network", []) if n["id"] == snapshot.get("network")), None)
        network = _pick_network(db, _snapshot(network_obj) if network_obj else {})
        fields = _fields("VIF", snapshot)
        fields.update(VM=vm, network=network, currently_attached=False)
        created.append(db.create("VIF", fields))
    for ref in vms.values():
        vm_ops.refresh(db, ref)
    return originals, vdis


def destroy_created(db: Database, disks: DiskStore, refs: list[str]) -> None:
    """Remove what an import created (newest first); refs already gone are skipped."""
    for ref in reversed(refs):
        for cls, table in db.tables.items():
            if ref in table:
                db.destroy(cls, ref)
                if cls == "VDI":
                    disks.destroy(ref)
                break
