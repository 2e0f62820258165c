"""``host.*``: enable/disable, restart/stop (evacuating first), properties (XO's ``api/host.mjs``).

As XO: ``host.restart`` and ``host.stop`` first disable the host and evacuate its VMs
(``host.evacuate``); when the evacuation fails the host is enabled again and the error raised,
unless ``force`` (restart) lets the reboot go ahead anyway. ``host.stop`` with
``bypassEvacuate`` only disables the host. A host that needs a reboot (patches) cannot reboot
before its pool master unless ``bypassVersionCheck`` (default: ``force``).
"""

from __future__ import annotations

from typing import Any

from xo.api.context import CallContext
from xo.api.errors import incorrect_state, not_implemented
from xo.api.pool import migration_network
from xo.api.registry import Namespace
from xo.api.xapi_access import xapi_of
from xo.xapi.errors import XapiError

api = Namespace("host")

_ADMINISTRATE = {"host": ("id", "host", "administrate")}
_OPERATE = {"host": ("id", "host", "operate")}


async def clear_host(ctx: CallContext, xapi: Any, host: dict[str, Any], *, force: bool) -> None:
    """Disable ``host`` and evacuate its VMs (re-enabled on failure unless ``force``)."""
    ref = host["_xapiRef"]
    await xapi.call("host.disable", ref)
    params = [ref]
    network = migration_network(ctx, host["$pool"])
    if network is not None:
        params.append(network["_xapiRef"])
    try:
        try:
            await xapi.call_async("host.evacuate", *params)
        except XapiError as error:
            if error.code != "MESSAGE_PARAMETER_COUNT_MISMATCH" or len(params) == 1:
                raise
            await xapi.call_async("host.evacuate", ref)  # hosts without the network param
    except XapiError:
        if not force:
            await xapi.call("host.enable", ref)
            raise


@api.method(params={"id": {"type": "string"}}, resolve=_ADMINISTRATE, description="enable to create VM on the host")  # fmt: skip
async def enable(ctx: CallContext, *, host: dict[str, Any]) -> None:
    await xapi_of(ctx, host).call("host.enable", host["_xapiRef"])


@api.method(
    params={"id": {"type": "string"}, "transient": {"type": "boolean", "optional": True}},
    resolve=_ADMINISTRATE,
    description="disable to create VM on the host",
)
async def disable(ctx: CallContext, *, host: dict[str, Any], transient: bool = True) -> None:
    # XAPI's second parameter (persist across reboots) only exists on recent hosts: as XO, it is
    # sent only when asked for.
    extra = () if transient else (False,)
    await xapi_of(ctx, host).call("host.disable", host["_xapiRef"], *extra)


def _check_versions(ctx: CallContext, host: dict[str, Any]) -> None:
    """A host needing a reboot may not reboot before an older or unrebooted master."""
    objects = ctx.services.objects
    pool = objects.get(host["$pool"]) if objects is not None else None
    master = objects.get(pool["master"]) if objects is not None and pool else None
    if master is None or not host.get("rebootRequired") or host["id"] == master["id"]:
        return
    older = _version(master.get("version")) < _version(host.get("version"))
    same = _version(master.get("version")) == _version(host.get("version"))
    if older or (same and master.get("rebootRequired")):
        raise incorrect_state(
            actual=True, expected=False, object=master["id"], property="rebootRequired"
        )


def _version(text: Any) -> tuple[int, ...]:
    parts = []
    for part in str(text or "0").split("."):
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


@api.method(
    params={
        "bypassBackupCheck": {"type": "boolean", "optional": True},
        "bypassBlockedSuspend": {"type": "boolean", "optional": True},
        "bypassCurrentVmCheck": {"type": "boolean", "optional": True},
        "id": {"type": "string"},
        "force": {"type": "boolean", "optional": True},
        "suspendResidentVms": {"type": "boolean", "default": False},
        "bypassVersionCheck": {"type": "boolean", "optional": True},
    },
    resolve=_OPERATE,
    description="restart the host",
)
async def restart(
    ctx: CallContext,
    *,
    host: dict[str, Any],
    force: bool = False,
    suspendResidentVms: bool = False,
    bypassVersionCheck: bool | None = None,
    bypassBackupCheck: bool = False,
    bypassBlockedSuspend: bool | None = None,
    bypassCurrentVmCheck: bool | None = None,
) -> None:
    if suspendResidentVms:
        raise not_implemented()  # XO's "smart reboot" (suspend, reboot, resume)
    if not (force if bypassVersionCheck is None else bypassVersionCheck):
        _check_versions(ctx, host)
    xapi = xapi_of(ctx, host)
    await clear_host(ctx, xapi, host, force=force)
    await xapi.call_async("host.reboot", host["_xapiRef"])


@api.method(
    params={
        "bypassBackupCheck": {"type": "boolean", "optional": True},
        "id": {"type": "string"},
        "bypassEvacuate": {"type": "boolean", "optional": True},
    },
    resolve=_OPERATE,
    description="stop the host",
)
async def stop(
    ctx: CallContext,
    *,
    host: dict[str, Any],
    bypassEvacuate: bool = False,
    bypassBackupCheck: bool = False,
) -> None:
    xapi = xapi_of(ctx, host)
    if bypassEvacuate:
        await xapi.call("host.disable", host["_xapiRef"])
    else:
        await clear_host(ctx, xapi, host, force=False)
    await xapi.call_async("host.shutdown", host["_xapiRef"])


@api.method(
    params={"bypassBackupCheck": {"type": "boolean", "optional": True}, "id": {"type": "string"}},
    resolve=_ADMINISTRATE,
    description="restart the Xen agent on the host",
)
async def restartAgent(
    ctx: CallContext, *, host: dict[str, Any], bypassBackupCheck: bool = False
) -> None:
    await xapi_of(ctx, host).call_async("host.restart_agent", host["_xapiRef"])


api.alias("restart_agent", "restartAgent")


@api.method(
    params={
        "id": {"type": "string"},
        "iscsiIqn": {"type": "string", "optional": True},
        "name_label": {"type": "string", "optional": True},
        "name_description": {"type": "string", "minLength": 0, "optional": True},
        "multipathing": {"type": "boolean", "optional": True},
    },
    resolve=_ADMINISTRATE,
    description="changes the properties of an host",
)
async def set_(
    ctx: CallContext,
    *,
    host: dict[str, Any],
    iscsiIqn: str | None = None,
    name_label: str | None = None,
    name_description: str | None = None,
    multipathing: bool | None = None,
) -> None:
    if multipathing is not None:
        raise not_implemented()  # needs every PBD of the host unplugged and replugged
    xapi = xapi_of(ctx, host)
    ref = host["_xapiRef"]
    if name_label is not None:
        await xapi.call("host.set_name_label", ref, name_label)
    if name_description is not None:
        await xapi.call("host.set_name_description", ref, name_description)
    if iscsiIqn is not None:
        try:
            await xapi.call("host.set_iscsi_iqn", ref, iscsiIqn)
        except XapiError as error:
            if error.code != "MESSAGE_METHOD_UNKNOWN":
                raise
            # older hosts keep it in other_config
            await xapi.call("host.remove_from_other_config", ref, "iscsi_iqn")
            if iscsiIqn:
                await xapi.call("host.add_to_other_config", ref, "iscsi_iqn", iscsiIqn)
