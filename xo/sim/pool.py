"""One simulated pool: its database, sessions, tasks, events, disks and fault switches, and the
whole semantics of an API call (:meth:`SimPool.rpc`), with no sockets.

Dispatch order, as xapi's generated server does it: unknown method -> ``MESSAGE_METHOD_UNKNOWN``;
wrong arity -> ``MESSAGE_PARAMETER_COUNT_MISMATCH [method, expected, received]``; session check ->
``SESSION_INVALID``; ``Async.`` on a method without async mode -> ``Fault``; unmarshalling ->
``INTERNAL_ERROR``. Then ``Async.*`` returns a task ref at once while the operation runs in the
pool's nursery (:meth:`run`), sync calls of async-capable methods run inside a transient task, and
everything else is answered directly.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from xo.formats.xmlrpc import encode_value
from xo.sim import ova, vm_copy, vm_ops
from xo.sim.db import Database
from xo.sim.disks import DiskStore
from xo.sim.dispatch import LIST_METHODS, METHODS, OPTIONAL_DEFAULTS, Method
from xo.sim.errors import XapiFailure
from xo.sim.events import EventService
from xo.sim.faults import Faults
from xo.sim.methods.registry import Call
from xo.sim.params import coerce_param
from xo.sim.patches import Patching
from xo.sim.schema import NULL_REF
from xo.sim.sessions import Sessions
from xo.sim.tasks import TaskTable
from xo.sim.timing import Timing
from xo.sim.updater import Updater

log = logging.getLogger(__name__)


class SimPool:
    """A simulated pool. Build it with :func:`xo.sim.scenario.build_world`."""

    def __init__(
        self,
        *,
        name: str,
        db: Database,
        disks: DiskStore,
        flavour: str = "xenserver",
        username: str = "root",
        password: str = "password",
        timing: Timing | None = None,
    ) -> None:
        self.name = name
        self.db = db
        self.disks = disks
        self.flavour = flavour
        self.username = username
        self.password = password
        self.timing = timing or Timing()
        self.sessions = Sessions(db.ids)
        self.tasks = TaskTable(db)
        self.events = EventService(db, self.timing)
        self.faults = Faults(self)
        self.patches = Patching(db, disks)
        self.updater = Updater(self.timing)
        self.plugin_locks: dict[tuple[str, str], str] = {}  # (host, plugin) -> running fn
        self.pool_certificates: dict[str, str] = {}  # pool.certificate_install name -> PEM
        # Scheme of console locations: "http" until the network layer serves TLS and calls
        # set_endpoints("https", ...) (real hosts serve HTTPS).
        self.url_scheme = "http"
        self.host_netlocs: dict[str, str] = {}  # host ref -> "ip:port" where it listens
        self._nursery: trio.Nursery | None = None

    # --- identity -------------------------------------------------------------------------------

    @property
    def pool_ref(self) -> str:
        return next(iter(self.db.all("pool")))

    @property
    def uuid(self) -> str:
        return self.db.get("pool", self.pool_ref)["uuid"]

    @property
    def master_ref(self) -> str:
        return self.db.get("pool", self.pool_ref)["master"]

    @property
    def host_refs(self) -> list[str]:
        """Hosts in creation order (stable)."""
        return list(self.db.all("host"))

    def host_address(self, ref: str) -> str:
        return self.db.get("host", ref)["address"]

    def host_netloc(self, ref: str) -> str:
        """``ip:port`` where the host listens (its ``address`` until the network says more)."""
        return self.host_netlocs.get(ref) or self.host_address(ref)

    def host_url(self, ref: str) -> str:
        return f"{self.url_scheme}://{self.host_netloc(ref)}"

    def set_endpoints(self, scheme: str, endpoints: dict[str, tuple[str, str]]) -> None:
        """Where the hosts are served: ``scheme`` and, per host ref, ``(address, netloc)``.

        ``address`` goes to the host record (a bare IP like xapi's, or ``ip:port``), ``netloc``
        (``ip:port``) into URLs: console locations (rewritten in one pass) and redirects.
        """
        rewrite = {
            self.host_url(ref): f"{scheme}://{endpoint[1]}" for ref, endpoint in endpoints.items()
        }
        self.url_scheme = scheme
        for ref, (address, netloc) in endpoints.items():
            self.host_netlocs[ref] = netloc
            if self.host_address(ref) != address:
                self.db.update("host", ref, address=address)
        for console_ref, console in list(self.db.all("console").items()):
            location = console["location"]
            prefix, sep, rest = location.partition("/console")
            if sep and prefix in rewrite and rewrite[prefix] != prefix:
                self.db.update("console", console_ref, location=rewrite[prefix] + sep + rest)

    def set_host_address(self, ref: str, address: str) -> None:
        """Set one host's ``address`` (also its netloc: ``ip:port`` style addresses)."""
        self.set_endpoints(self.url_scheme, {ref: (address, address)})

    def set_master(self, host_ref: str) -> None:
        self.db.update("pool", self.pool_ref, master=host_ref)

    def set_host_live(self, host_ref: str, live: bool) -> None:
        metrics = self.db.get("host", host_ref)["metrics"]
        if self.db.exists("host_metrics", metrics):
            self.db.update("host_metrics", metrics, live=live)

    # --- lifetime -------------------------------------------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Own the nursery where ``Async.*`` operations run; returns when cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                task_status.started()
                await trio.sleep_forever()
            finally:
                self._nursery = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[SimPool]:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.run)
            yield self
            nursery.cancel_scope.cancel()

    def spawn(self, fn: Any, *args: Any) -> None:
        """Run a background operation in the pool's nursery (or as a system task when the pool
        was not started with :meth:`run`, e.g. in a bare script)."""
        if self._nursery is not None:
            self._nursery.start_soon(fn, *args)
        else:
            trio.lowlevel.spawn_system_task(fn, *args)

    # --- sessions (also used by HTTP handlers) --------------------------------------------------

    async def login(self, username: str, password: str, *, on_host: str) -> str:
        if on_host != self.master_ref:
            raise XapiFailure("HOST_IS_SLAVE", self.host_address(self.master_ref))
        if username != self.username or password != self.password:
            if self.timing.login_failure_delay:
                await trio.sleep(self.timing.login_failure_delay)
            raise XapiFailure("SESSION_AUTHENTICATION_FAILED", username, "Authentication failure")
        return self.sessions.open(username, on_host).ref

    def check_session(self, session_ref: str) -> None:
        self.sessions.check(session_ref)

    def logout(self, session_ref: str) -> None:
        self.sessions.close(session_ref)
        self.events.forget_session(session_ref)
        self.events.interrupt(lambda s: XapiFailure("SESSION_INVALID", s), session=session_ref)

    # --- task helpers for HTTP handlers ---------------------------------------------------------

    def task_create(self, name_label: str, session_ref: str, *, host_ref: str) -> str:
        return self.tasks.create(name_label, host=host_ref)

    def task_exists(self, ref: str) -> bool:
        return self.tasks.exists(ref)

    def task_set_progress(self, ref: str, progress: float) -> None:
        self.tasks.set_progress(ref, progress)

    def task_complete(self, ref: str, result: str) -> None:
        self.tasks.complete(ref, result)
        self._release_operations(ref)

    def task_fail(self, ref: str, description: list[str]) -> None:
        self.tasks.fail(ref, description)
        self._release_operations(ref)

    def _release_operations(self, task_ref: str) -> None:
        """Drop VM operations still held by a finished task (e.g. "import" on new VMs)."""
        for ref, vm in list(self.db.all("VM").items()):
            if task_ref in vm["current_operations"]:
                ops = {k: v for k, v in vm["current_operations"].items() if k != task_ref}
                self.db.update("VM", ref, current_operations=ops)
                vm_ops.refresh(self.db, ref)

    # --- model helpers for the HTTP handlers (import/export/raw VDI/patch upload) ---------------

    @property
    def xapi_version(self) -> tuple[int, int]:
        """(major, minor) of the master's xapi, as XVA version blocks carry it."""
        text = self.db.get("host", self.master_ref)["software_version"].get("xapi", "1.20")
        major, _, minor = text.partition(".")
        try:
            return int(major), int(minor.split(".")[0])
        except ValueError:
            return 1, 20

    def export_objects(
        self, vm_ref: str, *, preserve_power_state: bool = False
    ) -> tuple[list[dict], list[tuple[str, str]]]:
        """ova.xml objects of a VM and its disks as (ova id, VDI ref), for ``GET /export``."""
        return ova.export_objects(self.db, vm_ref, preserve_power_state=preserve_power_state)

    def check_export_allowed(self, vm_ref: str) -> None:
        """VM_BAD_POWER_STATE for a running VM (unless a snapshot), and the other VM rules."""
        vm_ops.check(self.db, vm_ref, "export")

    def import_ova(
        self, objects: list[dict], sr_ref: str, task_ref: str, *, restore: bool = False
    ) -> tuple[list[str], dict[str, str], list[str]]:
        """Create what ova.xml describes: (VM refs, ova VDI id -> VDI ref, every ref created).

        New VMs hold ``current_operations[task] = "import"`` until the task completes or fails.
        """
        vm_refs, vdis, created = ova.import_objects(self.db, self.disks, objects, sr_ref, restore=restore)
        if self.tasks.exists(task_ref):
            for ref in vm_refs:
                self.db.update("VM", ref, current_operations={task_ref: "import"})
                vm_ops.refresh(self.db, ref)
        return vm_refs, vdis, created

    def create_vm_from_ova(
        self, objects: list[dict], sr_ref: str, task_ref: str
    ) -> tuple[list[str], dict[str, str]]:
        """The contract's name for :meth:`import_ova` (without the created list)."""
        vm_refs, vdis, _ = self.import_ova(objects, sr_ref, task_ref)
        return vm_refs, vdis

    def destroy_created(self, refs: list[str]) -> None:
        """Roll back an import: destroy every object created (and its disk contents)."""
        ova.destroy_created(self.db, self.disks, refs)

    def create_vdi(self, sr_ref: str, size: int, *, name_label: str = "", type: str = "user") -> str:
        """A new empty VDI (zeros) on ``sr_ref`` (raises HANDLE_INVALID for an unknown SR)."""
        self.db.get("SR", sr_ref)
        uuid = self.db.ids.uuid()
        ref = self.db.create(
            "VDI",
            {"uuid": uuid, "location": uuid, "name_label": name_label, "SR": sr_ref, "virtual_size": size, "type": type, "managed": True, "sm_config": {"image-format": "vhd"}, "allowed_operations": ["clone", "copy", "snapshot", "resize", "destroy"]},  # fmt: skip
        )
        self.disks.create_empty(ref, size)
        return ref

    def destroy_vdi(self, ref: str) -> None:
        if self.db.exists("VDI", ref):
            vm_copy.destroy_vdi(self.db, self.disks, ref)

    def task_is_cancelling(self, ref: str) -> bool:
        return self.tasks.is_cancelling(ref)

    # --- the API --------------------------------------------------------------------------------

    async def rpc(self, method: str, params: list, *, on_host: str) -> Any:
        """Answer one API call as xapi would; raises :class:`XapiFailure`."""
        if not isinstance(params, list):
            params = list(params) if isinstance(params, tuple) else [params]
        if method == "system.listMethods":
            return list(LIST_METHODS)
        if method == "system.isAlive":
            return params[0] if params else ""
        is_async = method.startswith("Async.")
        name = method[6:] if is_async else method
        spec = METHODS.get(name)
        if spec is None or spec.handler is None:
            raise XapiFailure("MESSAGE_METHOD_UNKNOWN", method)
        received = len(params)
        if received < spec.min_params or received > len(spec.params):
            raise XapiFailure("MESSAGE_PARAMETER_COUNT_MISMATCH", name, len(spec.params), received)
        session = NULL_REF
        if spec.takes_session:
            session = self.sessions.check(params[0]).ref
        if is_async and not spec.async_capable:
            raise XapiFailure("Fault", f"No async mode for this operation (rpc: {method})")
        args = self._unmarshal(spec, params)
        call = Call(self, name, session=session, host=on_host)
        if is_async:
            call.task = self.tasks.create(method, host=on_host)
            self.spawn(self._run_task, spec, call, args)
            return call.task
        if spec.async_capable:
            call.task = self.tasks.create(name, host=on_host)
            try:
                return await spec.handler(call, *args)  # type: ignore[misc]
            finally:
                self.tasks.destroy(call.task)
        return await spec.handler(call, *args)  # type: ignore[misc]

    def _unmarshal(self, spec: Method, params: list) -> list:
        types = spec.params[1:] if spec.takes_session else spec.params
        given = params[1:] if spec.takes_session else params
        args = [coerce_param(t, v) for t, v in zip(types, given, strict=False)]
        if len(args) < len(types):
            defaults = OPTIONAL_DEFAULTS.get(spec.name, [])
            missing = len(types) - len(args)
            args.extend(defaults[len(defaults) - missing :] if missing <= len(defaults) else [])
        return args

    async def _run_task(self, spec: Method, call: Call, args: list) -> None:
        try:
            result = await spec.handler(call, *args)  # type: ignore[misc]
        except XapiFailure as failure:
            self.tasks.fail(call.task, failure.description)
        except Exception as exc:
            log.exception("Async %s failed unexpectedly", spec.name)
            self.tasks.fail(call.task, ["INTERNAL_ERROR", f"{type(exc).__name__}: {exc}"])
        else:
            self.tasks.complete(call.task, encode_value(result))
