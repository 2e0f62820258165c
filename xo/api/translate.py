"""Exceptions -> what the client receives: the one place errors cross the API boundary.

- :class:`~xo.api.errors.XoApiError` and :class:`~xo.api.errors.JsonRpcError` go out as they are.
- :class:`~xo.xapi.errors.XapiError` codes listed in :data:`XAPI_TO_XO` become XO errors (the
  table of xo-server's ``XAPI_ERROR_TO_XO_ERROR``), with OpaqueRefs in their params turned into XO
  ids; :class:`~xo.xapi.errors.XapiUnreachable` becomes ``server unreachable`` (9).
- Anything else is "unknown error from the peer" (-32000, nothing more) for non-admins; admins
  get the message and a small ``data`` (error name, XAPI code and params) but never a stack
  trace, and never a value under a key that looks secret.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from xo.api import errors as E
from xo.api.errors import ABSENT, JsonRpcError, XoApiError
from xo.pools.errors import PoolNotConnected
from xo.xapi.errors import XapiError, XapiUnreachable

log = logging.getLogger(__name__)

RefToId = Callable[[str], str]

_SECRET_KEY = re.compile(r"password|passphrase|secret|token|session|key", re.IGNORECASE)


def _at(params: Sequence[str], index: int) -> str | None:
    return params[index] if len(params) > index else None


def _id(params: Sequence[str], index: int, ref_to_id: RefToId) -> str | None:
    value = _at(params, index)
    return None if value is None else ref_to_id(value)


XapiTranslation = Callable[[Sequence[str], RefToId], XoApiError]

XAPI_TO_XO: dict[str, XapiTranslation] = {
    "EHOSTUNREACH": lambda p, to_id: E.server_unreachable(),
    "HOST_OFFLINE": lambda p, to_id: E.host_offline(_id(p, 0, to_id)),
    "NO_HOSTS_AVAILABLE": lambda p, to_id: E.no_hosts_available(),
    "NOT_SUPPORTED_DURING_UPGRADE": lambda p, to_id: E.not_supported_during_upgrade(),
    "OPERATION_BLOCKED": lambda p, to_id: E.operation_blocked(_id(p, 0, to_id), _at(p, 1)),
    "PATCH_PRECHECK_FAILED_ISO_MOUNTED": lambda p, to_id: E.patch_precheck_failed(
        "isoMounted", _at(p, 0)
    ),
    "PIF_VLAN_EXISTS": lambda p, to_id: E.object_already_exists(_id(p, 0, to_id), "PIF"),
    "SESSION_AUTHENTICATION_FAILED": lambda p, to_id: E.authentication_failed(),
    "VDI_IN_USE": lambda p, to_id: E.vdi_in_use(_id(p, 0, to_id), _at(p, 1)),
    "VM_BAD_POWER_STATE": lambda p, to_id: E.vm_bad_power_state(
        _id(p, 0, to_id), _at(p, 1), _at(p, 2)
    ),
    "VM_IS_TEMPLATE": lambda p, to_id: E.vm_is_template(_id(p, 0, to_id)),
    "VM_LACKS_FEATURE": lambda p, to_id: E.vm_lacks_feature(_id(p, 0, to_id)),
    "VM_LACKS_FEATURE_SHUTDOWN": lambda p, to_id: E.vm_lacks_feature(_id(p, 0, to_id), "shutdown"),
    "VM_MISSING_PV_DRIVERS": lambda p, to_id: E.vm_missing_pv_drivers(_id(p, 0, to_id)),
}


def translate_xapi_error(error: XapiError, ref_to_id: RefToId) -> XoApiError | None:
    """The XO error for a XAPI error code, or None when XO has no equivalent."""
    translation = XAPI_TO_XO.get(error.code)
    return None if translation is None else translation(error.params, ref_to_id)


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: ("* obfuscated *" if _SECRET_KEY.search(str(k)) else _scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def _admin_details(error: BaseException) -> JsonRpcError:
    data: dict[str, Any] = {"name": type(error).__name__}
    if isinstance(error, XapiError):
        data["code"] = error.code
        data["params"] = list(error.params)
        if error.method:
            data["method"] = error.method
    message = str(error) or type(error).__name__
    data["message"] = message
    return JsonRpcError(E.SERVER_ERROR, message, _scrub(data))


def to_api_error(
    error: BaseException, *, is_admin: bool, ref_to_id: RefToId = lambda ref: ref
) -> XoApiError | JsonRpcError:
    """The error to send for ``error`` raised by a method (or by the dispatcher)."""
    if isinstance(error, XoApiError | JsonRpcError):
        return error
    if isinstance(error, XapiError):
        translated = translate_xapi_error(error, ref_to_id)
        if translated is not None:
            return translated
    elif isinstance(error, XapiUnreachable):
        return E.server_unreachable()
    elif isinstance(error, PoolNotConnected):
        return E.server_unreachable(error.pool_id)
    if is_admin:
        return _admin_details(error)
    return E.unknown_error()


def error_wire(error: XoApiError | JsonRpcError) -> dict[str, Any]:
    """The ``error`` member of a response."""
    return error.to_wire()


__all__ = ["ABSENT", "XAPI_TO_XO", "error_wire", "to_api_error", "translate_xapi_error"]
