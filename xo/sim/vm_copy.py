"""VM and VDI copies: clone, copy, snapshot, checkpoint, revert, destroy.

VDI contents follow with :meth:`DiskStore.clone` (copy-on-write), so a clone or snapshot reads
back the same bytes as its source at the time it was taken.
"""

from __future__ import annotations

from xo.formats.xmlrpc import DateTime
from xo.sim import vm_ops
from xo.sim.db import Database
from xo.sim.disks import DiskStore
from xo.sim.errors import XapiFailure
from xo.sim.schema import NULL_REF, SCHEMAS
from xo.sim.tasks import now
from xo.sim.vm_records import create_vm_metrics

# Fields a copy never inherits (identity, relations rebuilt, runtime state).
_VM_SKIP = frozenset({
    "uuid", "allowed_operations", "current_operations", "resident_on", "scheduled_to_be_resident_on",
    "consoles", "VIFs", "VBDs", "VUSBs", "crash_dumps", "VTPMs", "metrics", "guest_metrics",
    "snapshots", "children", "parent", "snapshot_of", "snapshot_time", "is_a_snapshot",
    "suspend_VDI", "VGPUs", "attached_PCIs", "blobs", "transportable_snapshot_id", "snapshot_info",
    "snapshot_metadata", "is_snapshot_from_vmpp", "is_vmss_snapshot", "domid", "last_booted_record",
    "appliance", "protection_policy", "snapshot_schedule",
})  # fmt: skip
_VDI_SKIP = frozenset({
    "uuid", "allowed_operations", "current_operations", "VBDs", "crash_dumps", "snapshots",
    "snapshot_of", "snapshot_time", "is_a_snapshot", "location", "SR",
})  # fmt: skip
_DEVICE_SKIP = frozenset({"uuid", "VM", "VDI", "allowed_operations", "current_operations", "currently_attached", "metrics"})  # fmt: skip


def copy_vdi(
    db: Database, disks: DiskStore, vdi: str, *, sr: str | None = None, snapshot: bool = False, label: str | None = None
) -> str:
    src = db.get("VDI", vdi)
    fields = {k: v for k, v in src.items() if k not in _VDI_SKIP}
    fields["SR"] = sr or src["SR"]
    if label is not None:
        fields["name_label"] = label
    if snapshot:
        fields.update(is_a_snapshot=True, snapshot_of=vdi, snapshot_time=now())
        fields["sm_config"] = {**src["sm_config"], "vhd-parent": src["uuid"]}
    uuid = db.ids.uuid()
    ref = db.create("VDI", {**fields, "uuid": uuid, "location": uuid})
    if disks.exists(vdi):
        disks.clone(vdi, ref)
    else:
        disks.create_empty(ref, src["virtual_size"])
    account_sr(db, fields["SR"], src["virtual_size"])
    return ref


def account_sr(db: Database, sr: str, delta: int) -> None:
    rec = db.tables["SR"].get(sr)
    if rec is not None:
        db.update("SR", sr, virtual_allocation=max(0, rec["virtual_allocation"] + delta), physical_utilisation=max(0, rec["physical_utilisation"] + delta // 4))  # fmt: skip


def destroy_vdi(db: Database, disks: DiskStore, vdi: str) -> None:
    rec = db.get("VDI", vdi)
    for vbd in list(rec["VBDs"]):
        vbd_rec = db.tables["VBD"].get(vbd)
        if vbd_rec is not None and vbd_rec["currently_attached"]:
            raise XapiFailure("VDI_IN_USE", vdi, "destroy")
    for vbd in list(rec["VBDs"]):
        if db.exists("VBD", vbd):
            db.destroy("VBD", vbd)
    db.destroy("VDI", vdi)
    disks.destroy(vdi)
    account_sr(db, rec["SR"], -rec["virtual_size"])


def copy_vm(
    db: Database,
    disks: DiskStore,
    ref: str,
    new_name: str,
    *,
    sr: str | None = None,
    snapshot: bool = False,
    ignore_vdis: frozenset[str] = frozenset(),
    power_state: str = "Halted",
) -> str:
    """A copy of VM ``ref`` with copies of its disks, devices and a fresh metrics object."""
    src = db.get("VM", ref)
    fields = {k: v for k, v in src.items() if k not in _VM_SKIP}
    fields.update(name_label=new_name, power_state=power_state, domid=-1)
    if snapshot:
        fields.update(is_a_snapshot=True, is_a_template=True, snapshot_of=ref, snapshot_time=now())
        fields["snapshot_info"] = {"power-state-at-snapshot": src["power_state"]}
    else:
        fields["is_default_template"] = False
        other = dict(src["other_config"])
        other.pop("default_template", None)
        fields["other_config"] = other
        if src["is_a_snapshot"]:
            fields["is_a_template"] = False
    new = db.create("VM", fields)
    metrics = create_vm_metrics(db, db.get("VM", new), running=False, now=now())
    db.update("VM", new, metrics=metrics)
    for vbd in src["VBDs"]:
        vbd_rec = db.get("VBD", vbd)
        vdi = vbd_rec["VDI"]
        if vdi != NULL_REF and vdi in ignore_vdis:
            continue
        new_vdi = vdi
        if vdi != NULL_REF and vbd_rec["type"] != "CD":
            new_vdi = copy_vdi(db, disks, vdi, sr=sr, snapshot=snapshot)
        fields = {k: v for k, v in vbd_rec.items() if k not in _DEVICE_SKIP}
        db.create("VBD", {**fields, "VM": new, "VDI": new_vdi, "currently_attached": False})
    for vif in src["VIFs"]:
        vif_rec = db.get("VIF", vif)
        fields = {k: v for k, v in vif_rec.items() if k not in _DEVICE_SKIP}
        mac = vif_rec["MAC"] if snapshot else random_mac(db)
        db.create("VIF", {**fields, "VM": new, "MAC": mac, "currently_attached": False})
    vm_ops.refresh(db, new)
    return new


def random_mac(db: Database) -> str:
    digits = db.ids.uuid().replace("-", "")[:10]
    return "d2:" + ":".join(digits[i : i + 2] for i in range(0, 10, 2))


def destroy_vm(db: Database, disks: DiskStore, ref: str) -> None:
    """Remove the VM, its devices, metrics and consoles; keep its disks (xapi does)."""
    vm = db.get("VM", ref)
    for cls, refs in (("VBD", vm["VBDs"]), ("VIF", vm["VIFs"]), ("console", vm["consoles"])):
        for device in list(refs):
            if db.exists(cls, device):
                db.destroy(cls, device)
    if vm["suspend_VDI"] != NULL_REF and db.exists("VDI", vm["suspend_VDI"]):
        destroy_vdi(db, disks, vm["suspend_VDI"])
    for cls, field in (("VM_metrics", "metrics"), ("VM_guest_metrics", "guest_metrics")):
        if vm[field] != NULL_REF and db.exists(cls, vm[field]):
            db.destroy(cls, vm[field])
    db.destroy("VM", ref)


def revert_to(db: Database, disks: DiskStore, snapshot: str) -> str:
    """Make the snapshot's VM look like the snapshot again; returns the VM ref."""
    snap = db.get("VM", snapshot)
    vm_ref = snap["snapshot_of"]
    if not db.exists("VM", vm_ref):
        raise XapiFailure("VM_REVERT_FAILED", snapshot, vm_ref)
    vm = db.get("VM", vm_ref)
    keep = {k: v for k, v in snap.items() if k not in _VM_SKIP and k not in ("name_label", "name_description", "is_a_template", "tags", "other_config")}  # fmt: skip
    for vbd in list(vm["VBDs"]):
        vbd_rec = db.get("VBD", vbd)
        db.destroy("VBD", vbd)
        if vbd_rec["VDI"] != NULL_REF and vbd_rec["type"] == "Disk" and db.exists("VDI", vbd_rec["VDI"]):
            vdi = db.get("VDI", vbd_rec["VDI"])
            if not vdi["VBDs"]:
                destroy_vdi(db, disks, vbd_rec["VDI"])
    for vbd in snap["VBDs"]:
        vbd_rec = db.get("VBD", vbd)
        new_vdi = vbd_rec["VDI"]
        if new_vdi != NULL_REF and vbd_rec["type"] == "Disk":
            new_vdi = copy_vdi(db, disks, new_vdi)
            src_label = db.get("VDI", vbd_rec["VDI"])["name_label"]
            db.update("VDI", new_vdi, is_a_snapshot=False, snapshot_of=NULL_REF, snapshot_time=DateTime("19700101T00:00:00Z"), name_label=src_label)  # fmt: skip
        fields = {k: v for k, v in vbd_rec.items() if k not in _DEVICE_SKIP}
        db.create("VBD", {**fields, "VM": vm_ref, "VDI": new_vdi, "currently_attached": False})
    suspended = snap["power_state"] == "Suspended" and snap["suspend_VDI"] != NULL_REF
    keep["power_state"] = "Suspended" if suspended else "Halted"
    keep["suspend_VDI"] = copy_vdi(db, disks, snap["suspend_VDI"]) if suspended else NULL_REF
    db.update("VM", vm_ref, **{k: v for k, v in keep.items() if k in SCHEMAS["VM"].fields})
    vm_ops.refresh(db, vm_ref)
    return vm_ref
