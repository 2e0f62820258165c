"""The XCP-ng ``updater.py`` host plugin (reference §8.2), over a simulated yum repository.

``check_update`` lists packages whose available version is newer than the host's; ``update``
installs them (all, or the ``packages`` listed) and answers like ``yum update``;
``query_installed`` gives full NEVRAs. One call at a time per host: a concurrent call fails
with code ``"-1"`` ("The updater plugin is busy"), ``update`` first waits for the lock a while.
Results are JSON strings, as the real plugin returns them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import trio

from xo.sim.errors import XapiFailure
from xo.sim.timing import Timing

PLUGIN = "updater.py"
# The real plugin lets `update` wait up to 10 s for a busy lock before failing.
UPDATE_LOCK_WAIT = 10.0


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    release: str
    description: str = ""
    size: int = 1_000_000
    changelog: str = ""

    @property
    def nevra(self) -> str:
        return f"{self.name}-{self.version}-{self.release}.x86_64"


# What a freshly installed XCP-ng 8.3 host has, and what the simulated repository offers.
BASE_PACKAGES = (
    Package("xapi-core", "24.19.2", "1.6.xcpng8.3", "The xapi toolstack"),
    Package("xen-hypervisor", "4.17.5", "3.xcpng8.3", "The Xen hypervisor"),
    Package("kernel", "4.19.19", "8.0.37.1.xcpng8.3", "The Linux kernel"),
    Package("sm", "3.2.3", "1.3.xcpng8.3", "Storage manager"),
    Package("xcp-ng-release", "8.3.0", "29", "XCP-ng release file"),
)
REPOSITORY = (
    Package("xapi-core", "24.19.2", "1.7.xcpng8.3", "The xapi toolstack", 5_243_000, "Fix VM.migrate_send on large VMs"),
    Package("xen-hypervisor", "4.17.5", "4.xcpng8.3", "The Xen hypervisor", 2_480_000, "Security update XSA-462"),
    Package("sm", "3.2.3", "1.5.xcpng8.3", "Storage manager", 1_024_000, "Better NFS timeouts"),
    Package("xcp-ng-release", "8.3.0", "30", "XCP-ng release file", 50_000, "Release bump"),
)


def _newer(a: Package, b: Package) -> bool:
    def key(p: Package) -> tuple:
        return tuple(int(x) if x.isdigit() else x for x in (p.version + "." + p.release).replace("-", ".").split("."))

    try:
        return key(a) > key(b)
    except TypeError:
        return (a.version, a.release) > (b.version, b.release)


@dataclass
class Updater:
    """Package state of every host of one pool."""

    timing: Timing
    installed: dict[str, dict[str, Package]] = field(default_factory=dict)
    repository: dict[str, Package] = field(default_factory=lambda: {p.name: p for p in REPOSITORY})
    _busy: dict[str, str] = field(default_factory=dict)  # host -> running fn
    _released: dict[str, trio.Event] = field(default_factory=dict)  # woken when a host frees up

    def host_packages(self, host: str) -> dict[str, Package]:
        return self.installed.setdefault(host, {p.name: p for p in BASE_PACKAGES})

    def publish(self, package: Package) -> None:
        """Make a package version available in the simulated repository."""
        self.repository[package.name] = package

    def pending(self, host: str) -> list[Package]:
        installed = self.host_packages(host)
        return [p for name, p in sorted(self.repository.items()) if name not in installed or _newer(p, installed[name])]

    async def call(self, host: str, fn: str, args: dict[str, str]) -> str:
        if fn not in ("check_update", "update", "install", "query_installed", "get_proxies", "set_proxies"):
            raise XapiFailure("UNKNOWN_XENAPI_PLUGIN_FUNCTION", fn)
        if host in self._busy and fn in ("update", "install"):
            with trio.move_on_after(UPDATE_LOCK_WAIT * self.timing.scale):
                while host in self._busy:
                    await self._released.setdefault(host, trio.Event()).wait()
        if host in self._busy:
            raise XapiFailure("-1", f"The updater plugin is busy (current operation: {self._busy[host]})", "", "")
        self._busy[host] = fn
        try:
            await trio.sleep(self.timing.delay("plugin_call"))
            return json.dumps(self._run(host, fn, args))
        finally:
            del self._busy[host]
            released = self._released.pop(host, None)
            if released is not None:
                released.set()

    def _run(self, host: str, fn: str, args: dict[str, str]) -> Any:
        wanted = [p for p in args.get("packages", "").replace(",", " ").split() if p]
        if fn == "check_update":
            return [self._describe(p) for p in self.pending(host)]
        if fn in ("update", "install"):
            if fn == "install" and not wanted:
                raise XapiFailure("-1", "Missing parameter 'packages'", "", "")
            installed = self.host_packages(host)
            chosen = [p for p in self.pending(host) if not wanted or p.name in wanted]
            for package in chosen:
                installed[package.name] = package
            stdout = "".join(f"Updating : {p.nevra}\n" for p in chosen) + ("Complete!\n" if chosen else "No packages marked for update\n")
            return {"stdout": stdout, "stderr": "", "command": ["yum", fn, "-y", *wanted], "returncode": 0}
        if fn == "query_installed":
            installed = self.host_packages(host)
            return {name: installed[name].nevra if name in installed else "" for name in wanted}
        if fn == "get_proxies":
            return {"xcp-ng-base": "_none_", "xcp-ng-updates": "_none_"}
        return ""

    @staticmethod
    def _describe(p: Package) -> dict[str, Any]:
        return {
            "name": p.name,
            "version": p.version,
            "release": p.release,
            "description": p.description,
            "changelog": {"date": 1_735_689_600, "author": "XCP-ng packagers", "description": p.changelog} if p.changelog else None,
            "url": "https://xcp-ng.org",
            "size": p.size,
            "license": "GPLv2",
        }
