"""The errors API clients see, in their wire form.

Two families, serialized differently on purpose (xo-observed.md §2):

- :class:`XoApiError` — Xen Orchestra's own errors (``packages/xo-common/api-errors.js``), codes
  0-28, serialized ``{"message", "code", "data"?}`` (``message`` first).
- :class:`JsonRpcError` — JSON-RPC protocol errors (-32700 parse, -32600 invalid request, -32601
  method not found, -32000 anything else), serialized ``{"code", "data"?, "message"}``.

A method body raises the factories below (``raise no_such_object(id, "VM")``); anything else it
raises is translated by the dispatcher (:mod:`xo.api.translate`), never sent as is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Marks "no data member": distinct from a JSON null, which some errors carry on purpose.
ABSENT: Any = type(
    "Absent", (), {"__repr__": lambda self: "ABSENT", "__bool__": lambda self: False}
)()


def compact(**fields: Any) -> dict[str, Any]:
    """A dict without its None members, as JavaScript drops ``undefined`` when serializing."""
    return {key: value for key, value in fields.items() if value is not None}


class XoApiError(Exception):
    """One of XO's numbered API errors."""

    def __init__(self, code: int, message: str, data: Any = ABSENT) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.data is not ABSENT:
            wire["data"] = self.data
        return wire

    def __repr__(self) -> str:
        return f"XoApiError({self.code}, {self.message!r}, {self.data!r})"


class JsonRpcError(Exception):
    """A JSON-RPC protocol-level error."""

    def __init__(self, code: int, message: str, data: Any = ABSENT) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"code": self.code}
        if self.data is not ABSENT:
            wire["data"] = self.data
        wire["message"] = self.message
        return wire

    def __repr__(self) -> str:
        return f"JsonRpcError({self.code}, {self.message!r}, {self.data!r})"


# -- JSON-RPC protocol errors ------------------------------------------------------------------

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
SERVER_ERROR = -32000


def parse_error(reason: str | None = None) -> JsonRpcError:
    return JsonRpcError(PARSE_ERROR, "invalid JSON", ABSENT if reason is None else reason)


def invalid_request(reason: str) -> JsonRpcError:
    return JsonRpcError(INVALID_REQUEST, "invalid request", reason)


# Method names are echoed back (as XO does); a hostile name is cut so that a frame of junk
# does not come back as a frame of junk twice over.
MAX_ECHOED_NAME = 256


def method_not_found(name: str) -> JsonRpcError:
    if len(name) > MAX_ECHOED_NAME:
        name = name[:MAX_ECHOED_NAME] + "..."
    return JsonRpcError(METHOD_NOT_FOUND, f"method not found: {name}", name)


def unknown_error() -> JsonRpcError:
    """What a non-admin gets for an error that is not one of XO's (no message, no data)."""
    return JsonRpcError(SERVER_ERROR, "unknown error from the peer")


# -- XO errors (xo-common api-errors.js), one factory per code ---------------------------------


def not_implemented() -> XoApiError:
    return XoApiError(0, "not implemented")


def no_such_object(id: Any, type: str | Sequence[str] | None = None) -> XoApiError:
    shown = type if isinstance(type, str) or type is None else ",".join(type)
    data_type = type if isinstance(type, str) or type is None else list(type)
    return XoApiError(1, f"no such {shown or 'object'} {id}", compact(id=id, type=data_type))


def unauthorized(
    permission: str | None = None, object_id: str | None = None, object_type: str | None = None
) -> XoApiError:
    data = compact(permission=permission)
    data["object"] = compact(id=object_id, type=object_type)
    return XoApiError(2, "not enough permissions", data)


def invalid_credentials() -> XoApiError:
    return XoApiError(3, "invalid credentials")


def forbidden_operation(operation: str, reason: str | None = None) -> XoApiError:
    return XoApiError(
        5, f"forbidden operation: {operation}", compact(operation=operation, reason=reason)
    )


def no_hosts_available() -> XoApiError:
    return XoApiError(7, "no hosts available")


def authentication_failed() -> XoApiError:
    return XoApiError(8, "authentication failed")


def server_unreachable(object_id: str | None = None) -> XoApiError:
    return XoApiError(9, "server unreachable", compact(objectId=object_id))


def invalid_parameters(
    message: str | None = None, errors: Sequence[Mapping[str, Any]] | None = None
) -> XoApiError:
    data = {} if errors is None else {"errors": list(errors)}
    return XoApiError(10, message or "invalid parameters", data)


def vm_missing_pv_drivers(vm: str | None) -> XoApiError:
    return XoApiError(11, "missing PV drivers", compact(objectId=vm))


def vm_is_template(vm: str | None = None) -> XoApiError:
    return XoApiError(12, "VM is a template", compact(objectId=vm))


def vm_bad_power_state(vm: str | None, expected: str | None, actual: str | None) -> XoApiError:
    return XoApiError(
        13,
        f"VM state is {actual} but should be {expected}",
        compact(objectId=vm, expected=expected, actual=actual),
    )


def vm_lacks_feature(vm: str | None, feature: str | None = None) -> XoApiError:
    return XoApiError(
        14, f"VM lacks feature {feature or ''}", compact(objectId=vm, feature=feature)
    )


def not_supported_during_upgrade() -> XoApiError:
    return XoApiError(15, "not supported during upgrade")


def object_already_exists(object_id: str | None, object_type: str | None = None) -> XoApiError:
    return XoApiError(
        16,
        f"{object_type or 'object'} already exists",
        compact(objectId=object_id, objectType=object_type),
    )


def vdi_in_use(vdi: str | None, operation: str | None = None) -> XoApiError:
    return XoApiError(17, "VDI in use", compact(objectId=vdi, operation=operation))


def host_offline(host: str | None) -> XoApiError:
    return XoApiError(18, "host offline", compact(objectId=host))


def operation_blocked(object_id: str | None, code: str | None = None) -> XoApiError:
    return XoApiError(19, "operation blocked", compact(objectId=object_id, code=code))


def patch_precheck_failed(error_type: str, patch: str | None = None) -> XoApiError:
    return XoApiError(
        20, f"patch precheck failed: {error_type}", compact(objectId=patch, errorType=error_type)
    )


def operation_failed(object_id: str | None, code: str | None = None) -> XoApiError:
    return XoApiError(21, "operation failed", compact(objectId=object_id, code=code))


def not_enough_resources(items: list[dict[str, Any]]) -> XoApiError:
    return XoApiError(24, "not enough resources in resource set", items)


def incorrect_state(
    *,
    actual: Any = None,
    expected: Any = None,
    object: str | None = None,
    property: str | None = None,
) -> XoApiError:
    return XoApiError(
        25,
        "incorrect state",
        compact(actual=actual, expected=expected, object=object, property=property),
    )


def feature_unauthorized(
    feature_code: str, current_plan: str | None = None, min_plan: str | None = None
) -> XoApiError:
    return XoApiError(
        26,
        "feature Unauthorized",
        compact(featureCode=feature_code, currentPlan=current_plan, minPlan=min_plan),
    )


def service_unavailable(service_name: str) -> XoApiError:
    return XoApiError(28, "service unavailable", {"serviceName": service_name})
