"""XenServer-style patching: pool_update (and the legacy pool_patch view of it), reference §8.1.

Update files are our own simple format (see docs/sim.md, "Update files")::

    XSIM-UPDATE 1\\n
    {"uuid": ..., "name_label": ..., "version": ..., ...}\\n   <- one line of JSON metadata
    <payload bytes>

:func:`make_update_file` builds one. ``pool_update.introduce(vdi)`` reads the metadata from the
VDI's content; ``precheck``/``apply``/``pool_apply`` check requirements, conflicts and the
platform version, then mark the update applied on hosts (``host.updates``,
``pool_update.hosts``, a ``host_patch`` for the legacy ``pool_patch``) and merge its
``software_version`` changes into the host's.
"""

from __future__ import annotations

import json
from typing import Any

from xo.sim.db import Database
from xo.sim.disks import DiskStore
from xo.sim.errors import XapiFailure
from xo.sim.schema import NULL_REF
from xo.sim.tasks import now

MAGIC = b"XSIM-UPDATE 1\n"
# The metadata line must fit in the first block read from the VDI.
MAX_HEADER = 64 * 1024
GUIDANCES = ("restartHVM", "restartPV", "restartHost", "restartXAPI")


def make_update_file(
    uuid: str,
    name_label: str,
    version: str = "1.0",
    *,
    name_description: str = "",
    key: str | None = None,
    after_apply_guidance: tuple[str, ...] | list[str] = ("restartHost",),
    requires: tuple[str, ...] | list[str] = (),
    conflicts: tuple[str, ...] | list[str] = (),
    platform_version: str | None = None,
    software_version: dict[str, str] | None = None,
    installation_size: int = 10 * 1024 * 1024,
    payload: bytes = b"",
) -> bytes:
    """The bytes of an update file the simulator accepts (upload it, then introduce it)."""
    meta = {
        "uuid": uuid,
        "name_label": name_label,
        "name_description": name_description,
        "version": version,
        "key": key or name_label,
        "after_apply_guidance": list(after_apply_guidance),
        "requires": list(requires),
        "conflicts": list(conflicts),
        "platform_version": platform_version,
        "software_version": software_version or {},
        "installation_size": installation_size,
    }
    return MAGIC + json.dumps(meta).encode() + b"\n" + (payload or b"\0" * 512)


def read_update_metadata(disks: DiskStore, vdi: str) -> dict[str, Any]:
    head = disks.read(vdi, 0, MAX_HEADER)
    if not head.startswith(MAGIC):
        raise XapiFailure("INVALID_UPDATE", "the file is not an update (bad signature)")
    line = head[len(MAGIC) :].split(b"\n", 1)[0]
    try:
        meta = json.loads(line)
    except ValueError:
        raise XapiFailure("INVALID_UPDATE", "the update metadata cannot be parsed") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("uuid"), str) or not meta.get("name_label"):
        raise XapiFailure("INVALID_UPDATE", "the update metadata lacks uuid or name_label")
    return meta


class Patching:
    """pool_update / pool_patch state of one pool."""

    def __init__(self, db: Database, disks: DiskStore) -> None:
        self.db = db
        self.disks = disks
        self._meta: dict[str, dict[str, Any]] = {}  # update ref -> metadata from the file

    # --- introduce ---------------------------------------------------------------------------

    def introduce(self, vdi: str) -> str:
        self.db.get("VDI", vdi)
        meta = read_update_metadata(self.disks, vdi)
        if self.db.find_by_uuid("pool_update", meta["uuid"]) is not None:
            raise XapiFailure("UPDATE_ALREADY_EXISTS", meta["uuid"])
        guidance = [g for g in meta.get("after_apply_guidance", []) if g in GUIDANCES]
        update = self.db.create(
            "pool_update",
            {
                "uuid": meta["uuid"],
                "name_label": str(meta["name_label"]),
                "name_description": str(meta.get("name_description", "")),
                "version": str(meta.get("version", "1.0")),
                "key": str(meta.get("key", meta["name_label"])),
                "installation_size": int(meta.get("installation_size", 0)),
                "after_apply_guidance": guidance,
                "vdi": vdi,
                "enforce_homogeneity": False,
            },
        )
        self.db.create(
            "pool_patch",
            {
                "uuid": meta["uuid"],
                "name_label": str(meta["name_label"]),
                "name_description": str(meta.get("name_description", "")),
                "version": str(meta.get("version", "1.0")),
                "size": self.disks.size(vdi),
                "after_apply_guidance": guidance,
                "pool_update": update,
            },
        )
        self._meta[update] = meta
        return update

    def upload(self, vdi: str, host: str) -> str:
        """What ``PUT /pool_patch_upload`` does after storing the file: the pool_patch ref."""
        return self.patch_of(self.introduce(vdi))

    def patch_of(self, update: str) -> str:
        for ref, rec in self.db.all("pool_patch").items():
            if rec["pool_update"] == update:
                return ref
        raise XapiFailure("HANDLE_INVALID", "pool_patch", update)

    def update_of(self, patch: str) -> str:
        update = self.db.get("pool_patch", patch)["pool_update"]
        if not self.db.exists("pool_update", update):
            raise XapiFailure("HANDLE_INVALID", "pool_update", update)
        return update

    # --- precheck / apply --------------------------------------------------------------------

    def _metadata(self, update: str) -> dict[str, Any]:
        rec = self.db.get("pool_update", update)
        meta = self._meta.get(update)
        if meta is None:  # introduced by the scenario: no file, nothing to check
            meta = {"uuid": rec["uuid"], "name_label": rec["name_label"]}
        return meta

    def precheck(self, update: str, host: str) -> str:
        rec = self.db.get("pool_update", update)
        host_rec = self.db.get("host", host)
        if host in rec["hosts"]:
            raise XapiFailure("UPDATE_ALREADY_APPLIED", update)
        meta = self._metadata(update)
        applied = {self.db.get("pool_update", u)["uuid"] for u in host_rec["updates"] if self.db.exists("pool_update", u)}
        missing = [u for u in meta.get("requires", []) if u not in applied]
        if missing:
            raise XapiFailure("UPDATE_PRECHECK_FAILED_PREREQUISITE_MISSING", update, ";".join(missing))
        conflicts = [u for u in meta.get("conflicts", []) if u in applied]
        if conflicts:
            raise XapiFailure("UPDATE_PRECHECK_FAILED_CONFLICT_PRESENT", update, ";".join(conflicts))
        wanted = meta.get("platform_version")
        installed = host_rec["software_version"].get("platform_version", "")
        if wanted and wanted != installed:
            raise XapiFailure("UPDATE_PRECHECK_FAILED_WRONG_SERVER_VERSION", update, installed, wanted)
        if rec["vdi"] == NULL_REF or not self.db.exists("VDI", rec["vdi"]):
            if update in self._meta:
                raise XapiFailure("UPDATE_PRECHECK_FAILED_UNKNOWN_ERROR", update, "the update file is gone")
        return "ok"

    def apply(self, update: str, host: str) -> None:
        self.precheck(update, host)
        rec = self.db.get("pool_update", update)
        meta = self._metadata(update)
        host_rec = self.db.get("host", host)
        self.db.update("pool_update", update, hosts=[*rec["hosts"], host])
        fields: dict[str, Any] = {"updates": [*host_rec["updates"], update]}
        if "restartHost" in rec["after_apply_guidance"]:
            fields["updates_requiring_reboot"] = [*host_rec["updates_requiring_reboot"], update]
        changes = meta.get("software_version") or {}
        if changes:
            fields["software_version"] = {**host_rec["software_version"], **{str(k): str(v) for k, v in changes.items()}}
        self.db.update("host", host, **fields)
        patch = self.patch_of(update)
        self.db.create(
            "host_patch",
            {"name_label": rec["name_label"], "name_description": rec["name_description"], "version": rec["version"], "host": host, "applied": True, "timestamp_applied": now(), "size": 0, "pool_patch": patch},  # fmt: skip
        )
        if set(self.db.get("pool_update", update)["hosts"]) >= set(self.db.all("host")):
            self.db.update("pool_patch", patch, pool_applied=True)

    def hosts_to_apply(self, update: str, master: str) -> list[str]:
        applied = set(self.db.get("pool_update", update)["hosts"])
        hosts = [h for h in self.db.all("host") if h not in applied]
        if not hosts:
            raise XapiFailure("UPDATE_ALREADY_APPLIED_IN_POOL")
        return sorted(hosts, key=lambda h: h != master)

    def pool_clean(self, update: str) -> None:
        self.db.get("pool_update", update)
        self.db.update("pool_update", update, vdi=NULL_REF)

    def destroy(self, update: str) -> None:
        rec = self.db.get("pool_update", update)
        if rec["hosts"]:
            raise XapiFailure("UPDATE_IS_APPLIED")
        for ref, patch in list(self.db.all("pool_patch").items()):
            if patch["pool_update"] == update:
                self.db.destroy("pool_patch", ref)
        self.db.destroy("pool_update", update)
        self._meta.pop(update, None)
