"""XAPI error codes -> XO errors: the one table, complete for xo-server's list."""

from __future__ import annotations

import pytest

from xo.api.translate import XAPI_TO_XO, to_api_error
from xo.pools.errors import PoolAlreadyConnected
from xo.xapi.errors import XapiError, XapiTimeout, XapiUnreachable

# xo-server's XAPI_ERROR_TO_XO_ERROR (packages/xo-server/src/xo-mixins/api.mjs) -> XO code
XO_TABLE = {
    "EHOSTUNREACH": 9,
    "HOST_OFFLINE": 18,
    "NO_HOSTS_AVAILABLE": 7,
    "NOT_SUPPORTED_DURING_UPGRADE": 15,
    "OPERATION_BLOCKED": 19,
    "PATCH_PRECHECK_FAILED_ISO_MOUNTED": 20,
    "PIF_VLAN_EXISTS": 16,
    "SESSION_AUTHENTICATION_FAILED": 8,
    "VDI_IN_USE": 17,
    "VM_BAD_POWER_STATE": 13,
    "VM_IS_TEMPLATE": 12,
    "VM_LACKS_FEATURE": 14,
    "VM_LACKS_FEATURE_SHUTDOWN": 14,
    "VM_MISSING_PV_DRIVERS": 11,
}

REFS = {"OpaqueRef:vm": "vm-uuid", "OpaqueRef:host": "host-uuid", "OpaqueRef:vdi": "vdi-uuid"}


def to_id(ref: str) -> str:
    return REFS.get(ref, ref)


def test_table_is_complete() -> None:
    assert set(XAPI_TO_XO) == set(XO_TABLE)


@pytest.mark.parametrize("code", sorted(XO_TABLE))
def test_each_code_maps_even_without_params(code: str) -> None:
    error = to_api_error(XapiError(code, []), is_admin=False, ref_to_id=to_id)
    assert error.code == XO_TABLE[code]


@pytest.mark.parametrize(
    ("code", "params", "wire"),
    [
        (
            "VM_BAD_POWER_STATE",
            ["OpaqueRef:vm", "halted", "running"],
            {
                "message": "VM state is running but should be halted",
                "code": 13,
                "data": {"objectId": "vm-uuid", "expected": "halted", "actual": "running"},
            },
        ),
        ("SESSION_AUTHENTICATION_FAILED", ["root", "bad"], {"message": "authentication failed", "code": 8}),
        ("HOST_OFFLINE", ["OpaqueRef:host"], {"message": "host offline", "code": 18, "data": {"objectId": "host-uuid"}}),
        (
            "VDI_IN_USE",
            ["OpaqueRef:vdi", "destroy"],
            {"message": "VDI in use", "code": 17, "data": {"objectId": "vdi-uuid", "operation": "destroy"}},
        ),
        (
            "VM_LACKS_FEATURE_SHUTDOWN",
            ["OpaqueRef:vm"],
            {"message": "VM lacks feature shutdown", "code": 14, "data": {"objectId": "vm-uuid", "feature": "shutdown"}},
        ),
        ("VM_IS_TEMPLATE", ["OpaqueRef:vm"], {"message": "VM is a template", "code": 12, "data": {"objectId": "vm-uuid"}}),
    ],
)  # fmt: skip
def test_mapped_errors_carry_xo_ids(code: str, params: list[str], wire: dict) -> None:
    assert to_api_error(XapiError(code, params), is_admin=False, ref_to_id=to_id).to_wire() == wire


def test_unreachable_is_server_unreachable() -> None:
    for exc in (XapiUnreachable("refused", "h:443"), XapiTimeout("timed out", "h")):
        assert to_api_error(exc, is_admin=False).to_wire() == {
            "message": "server unreachable",
            "code": 9,
            "data": {},
        }


def test_unmapped_xapi_error_is_masked_or_detailed_without_secrets() -> None:
    exc = XapiError("SR_BACKEND_FAILURE", ["x"])
    assert to_api_error(exc, is_admin=False).to_wire() == {
        "code": -32000,
        "message": "unknown error from the peer",
    }
    wire = to_api_error(exc, is_admin=True).to_wire()
    assert wire["data"]["code"] == "SR_BACKEND_FAILURE" and wire["data"]["params"] == ["x"]
    assert list(wire) == ["code", "data", "message"]


def test_other_errors_for_admins_keep_their_message() -> None:
    wire = to_api_error(PoolAlreadyConnected("pool", "server"), is_admin=True).to_wire()
    assert wire["message"] == "this pool is already connected"
    assert wire["data"]["name"] == "PoolAlreadyConnected"
