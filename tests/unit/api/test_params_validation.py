"""XO params validation: the exact Ajv-like errors xo-server sends (xo-observed.md §2)."""

from __future__ import annotations

import json

import pytest

from xo.api.schema import ParamsValidator, SchemaError

USER_CREATE = {
    "email": {"type": "string"},
    "password": {"type": "string"},
    "permission": {"type": "string", "optional": True},
}
SERVER_ADD = {
    "label": {"optional": True, "type": "string"},
    "host": {"type": "string"},
    "username": {"type": "string"},
    "password": {"type": "string"},
    "autoConnect": {"optional": True, "type": "boolean"},
}


def err(ipath: str, spath: str, keyword: str, params: dict, message: str) -> dict:
    return {
        "instancePath": ipath,
        "schemaPath": spath,
        "keyword": keyword,
        "params": params,
        "message": message,
    }


CASES = [
    # (spec, params, expected errors) -- the first three are frames captured from XO
    (
        USER_CREATE,
        {"password": "x"},
        [err("", "#/required", "required", {"missingProperty": "email"}, "must have required property 'email'")],
    ),
    (
        USER_CREATE,
        {"email": 5, "password": "x"},
        [err("/email", "#/properties/email/type", "type", {"type": "string"}, "must be string")],
    ),
    (
        USER_CREATE,
        {"email": "a@b", "password": "x", "extra": 1},
        [
            err(
                "", "#/additionalProperties", "additionalProperties",
                {"additionalProperty": "extra"}, "must NOT have additional properties",
            )
        ],
    ),
    (
        SERVER_ADD,
        {"host": "a"},
        [
            err("", "#/required", "required", {"missingProperty": "username"}, "must have required property 'username'"),
            err("", "#/required", "required", {"missingProperty": "password"}, "must have required property 'password'"),
        ],
    ),
    (
        USER_CREATE,
        {"email": "", "password": "x"},
        [err("/email", "#/properties/email/minLength", "minLength", {"limit": 1}, "must NOT have fewer than 1 characters")],
    ),
    (
        {"description": {"type": ["null", "string"], "minLength": 0, "optional": True}},
        {"description": 3},
        [err("/description", "#/properties/description/type", "type", {"type": ["null", "string"]}, "must be null,string")],
    ),
    (
        {"s": {"enum": ["cpu", "core"]}},
        {"s": "x"},
        [err("/s", "#/properties/s/enum", "enum", {"allowedValues": ["cpu", "core"]}, "must be equal to one of the allowed values")],
    ),
    (
        {"ids": {"type": "array", "items": {"type": "string"}}},
        {"ids": ["a", 2]},
        [err("/ids/1", "#/properties/ids/items/type", "type", {"type": "string"}, "must be string")],
    ),
    (
        {"vifs": {"type": "array", "items": {"type": "object", "properties": {"network": {"type": "string"}}}}},
        {"vifs": [{"network": "n"}, {}]},
        [err("/vifs/1", "#/properties/vifs/items/required", "required", {"missingProperty": "network"}, "must have required property 'network'")],
    ),
    (
        {"n": {"type": "integer"}},
        {"n": 1.5},
        [err("/n", "#/properties/n/type", "type", {"type": "integer"}, "must be integer")],
    ),
    (
        {"n": {"type": "number"}},
        {"n": True},
        [err("/n", "#/properties/n/type", "type", {"type": "number"}, "must be number")],
    ),
    (
        {"notes": {"type": ["string", "null"], "maxLength": 3}},
        {"notes": "abcd"},
        [err("/notes", "#/properties/notes/maxLength", "maxLength", {"limit": 3}, "must NOT have more than 3 characters")],
    ),
    (
        {"vms": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"type": "string"}}},
        {"vms": ["a", "a"]},
        [err("/vms", "#/properties/vms/uniqueItems", "uniqueItems", {"i": 1, "j": 0}, "must NOT have duplicate items (items ## 0 and 1 are identical)")],
    ),
    (
        {"m": {"type": "object", "additionalProperties": {"type": ["null", "string"]}}},
        {"m": {"a/b": 1}},
        [err("/m/a~1b", "#/properties/m/additionalProperties/type", "type", {"type": ["null", "string"]}, "must be null,string")],
    ),
    (
        {"b": {"type": "object", "properties": {"*": {"type": "boolean"}}}},
        {"b": {"x": "no"}},
        [err("/b/x", "#/properties/b/additionalProperties/type", "type", {"type": "boolean"}, "must be boolean")],
    ),
    (
        {"port": {"type": "integer", "minimum": 1}},
        {"port": 0},
        [err("/port", "#/properties/port/minimum", "minimum", {"comparison": ">=", "limit": 1}, "must be >= 1")],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "params", "expected"), CASES)
def test_errors_match_ajv(spec: dict, params: dict, expected: list) -> None:
    assert ParamsValidator(spec).validate(params) == expected


def test_all_errors_are_reported_in_ajv_order() -> None:
    errors = ParamsValidator(USER_CREATE).validate({"email": 1, "extra": True})
    assert [e["keyword"] for e in errors] == ["required", "additionalProperties", "type"]


def test_valid_params_pass_and_defaults_are_filled() -> None:
    spec = {
        "id": {"type": "string"},
        "force": {"type": "boolean", "optional": True},
        "delay": {"type": "number", "default": 0},
    }
    params = {"id": "x"}
    assert ParamsValidator(spec).validate(params) == []
    assert params == {"id": "x", "delay": 0}


def test_explicit_min_length_zero_allows_empty_strings() -> None:
    spec = {"name_description": {"type": "string", "minLength": 0}}
    assert ParamsValidator(spec).validate({"name_description": ""}) == []


def test_no_declared_properties_accepts_anything() -> None:
    assert ParamsValidator({}).validate({"foo": "bar"}) == []
    assert ParamsValidator(None).validate({"foo": 1}) == []


def test_object_or_string_union_without_properties_allows_any_keys() -> None:
    spec = {"filter": {"type": ["object", "string"], "optional": True}}
    assert ParamsValidator(spec).validate({"filter": {"type": "VM", "x": {"y": 1}}}) == []
    assert ParamsValidator(spec).validate({"filter": "type:VM"}) == []


def test_any_value_schema_is_required_but_untyped() -> None:
    spec = {"userIds": {}}
    assert ParamsValidator(spec).validate({"userIds": [1, "a"]}) == []
    assert ParamsValidator(spec).validate({})[0]["keyword"] == "required"


@pytest.mark.parametrize(
    "spec",
    [
        {"x": {"type": "strin"}},
        {"x": {"typo": "string"}},
        {"x": {"type": "string", "optional": "yes"}},
        {"x": {"enum": []}},
        {"x": {"type": "string", "pattern": "("}},
        {"x": "string"},
        {"x": {"type": "object", "properties": {"y": {"type": 3}}}},
    ],
)
def test_bad_schemas_fail_loudly(spec: dict) -> None:
    with pytest.raises(SchemaError):
        ParamsValidator(spec)


# vm.create's schema from xo-methods.json: wildcard "*", nested items, additionalProperties schemas.
VM_CREATE = json.loads(
    """{"acls": {"type": "array", "optional": true, "items": {"type": "object", "properties": {"subject": {"type": "string"}, "action": {"type": "string"}}}}, "affinityHost": {"type": "string", "optional": true}, "bootAfterCreate": {"type": "boolean", "optional": true}, "cloudConfig": {"type": "string", "optional": true}, "createVtpm": {"type": "boolean", "default": false}, "networkConfig": {"type": "string", "optional": true}, "coreOs": {"type": "boolean", "optional": true}, "clone": {"type": "boolean", "optional": true}, "coresPerSocket": {"type": ["string", "number"], "optional": true}, "resourceSet": {"type": "string", "optional": true}, "destroyCloudConfigVdiAfterBoot": {"type": "boolean", "optional": true}, "installation": {"type": "object", "optional": true, "properties": {"method": {"type": "string"}, "repository": {"type": "string"}}}, "vgpuType": {"type": "string", "optional": true}, "gpuGroup": {"type": "string", "optional": true}, "name_label": {"type": "string"}, "name_description": {"type": "string", "minLength": 0, "optional": true}, "pv_args": {"type": "string", "optional": true}, "share": {"type": "boolean", "optional": true}, "template": {"type": "string"}, "VIFs": {"optional": true, "type": "array", "items": {"type": "object", "properties": {"network": {"type": "string"}, "mac": {"optional": true, "type": "string"}, "allowedIpv4Addresses": {"optional": true, "type": "array", "items": {"type": "string"}}, "allowedIpv6Addresses": {"optional": true, "type": "array", "items": {"type": "string"}}}}}, "VDIs": {"optional": true, "type": "array", "items": {"type": "object", "properties": {"size": {"type": ["integer", "string"]}, "SR": {"type": "string"}, "type": {"type": "string"}}, "additionalProperties": true}}, "existingDisks": {"optional": true, "type": "object", "additionalProperties": {"type": "object", "properties": {"size": {"type": ["integer", "string"], "optional": true}, "$SR": {"type": "string", "optional": true}}, "additionalProperties": true}}, "hvmBootFirmware": {"type": "string", "optional": true}, "copyHostBiosStrings": {"type": "boolean", "optional": true}, "*": {}}"""
)


def test_the_most_complex_xo_schema_compiles_and_validates() -> None:
    validator = ParamsValidator(VM_CREATE, where="vm.create")
    params = {
        "name_label": "vm",
        "template": "t",
        "VIFs": [{"network": "n"}],
        "existingDisks": {"0": {"size": 1, "$SR": "sr"}},
        "anything": {"goes": True},
    }
    assert validator.validate(params) == []
    assert params["createVtpm"] is False  # default filled
    errors = validator.validate({"name_label": "vm", "template": "t", "VIFs": [{"mac": "x"}]})
    assert [(e["instancePath"], e["keyword"]) for e in errors] == [("/VIFs/0", "required")]
