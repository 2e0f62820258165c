"""XO's params schemas: compile-time checks, conversion, and validation with Ajv's error shapes.

Methods declare ``params`` in XO's JSON-schema dialect (``_xoJsonSchema.mjs`` in xo-server):

- object properties are required unless marked ``optional: true``;
- additional properties are rejected unless no property is declared, or a ``*`` property gives
  the schema of the extra ones (it becomes ``additionalProperties``);
- strings get ``minLength: 1`` unless they declare ``minLength``, ``format`` or ``pattern``;
- ``default`` values fill absent properties before validation (Ajv's ``useDefaults``).

:func:`compile_params` converts a method's spec once (raising :class:`SchemaError` on anything it
does not understand, so a bad schema fails at start-up), and :meth:`ParamsValidator.validate`
returns every error at once (Ajv's ``allErrors``), each as the dict clients receive in
``data.errors`` of an ``invalid parameters`` error: ``{instancePath, schemaPath, keyword, params,
message}``, with Ajv's messages and its keyword evaluation order (type; number, string, array,
object keywords; then ``enum``). Pure: no I/O.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

JSON_TYPES = ("string", "number", "integer", "boolean", "object", "array", "null")

# Every keyword a params schema may use. Anything else is a typo that would silently not
# validate, so it is refused when the method is registered.
KNOWN_KEYWORDS = frozenset(
    {
        "type", "optional", "default", "description", "title", "examples", "nullable",
        "properties", "additionalProperties", "required", "items", "enum",
        "minLength", "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "minItems", "maxItems", "uniqueItems",
    }
)  # fmt: skip


class SchemaError(ValueError):
    """A params schema that cannot be used (raised at registration, never at call time)."""


Error = dict[str, Any]


# -- conversion (XO dialect -> plain JSON schema) ----------------------------------------------


def _types_of(schema: Mapping[str, Any], where: str) -> tuple[str, ...]:
    declared = schema.get("type")
    if declared is None:
        types: tuple[str, ...] = ()
    elif isinstance(declared, str):
        types = (declared,)
    elif isinstance(declared, list) and declared and all(isinstance(t, str) for t in declared):
        types = tuple(declared)
    else:
        raise SchemaError(f"{where}: type must be a type name or a non-empty list of them")
    for t in types:
        if t not in JSON_TYPES:
            raise SchemaError(f"{where}: unknown type {t!r}")
    if schema.get("nullable") is True and types and "null" not in types:
        types = (*types, "null")
    return types


def _check_keywords(schema: Any, where: str) -> None:
    if not isinstance(schema, Mapping):
        raise SchemaError(f"{where}: a schema must be an object, not {type(schema).__name__}")
    unknown = set(schema) - KNOWN_KEYWORDS
    if unknown:
        raise SchemaError(f"{where}: unknown schema keyword(s) {sorted(unknown)}")
    for key in ("minLength", "maxLength", "minItems", "maxItems"):
        if key in schema and (not isinstance(schema[key], int) or schema[key] < 0):
            raise SchemaError(f"{where}: {key} must be a non-negative integer")
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if key in schema and (
            isinstance(schema[key], bool) or not isinstance(schema[key], int | float)
        ):
            raise SchemaError(f"{where}: {key} must be a number")
    if "enum" in schema and (not isinstance(schema["enum"], list) or not schema["enum"]):
        raise SchemaError(f"{where}: enum must be a non-empty list")
    if "optional" in schema and not isinstance(schema["optional"], bool):
        raise SchemaError(f"{where}: optional must be a boolean")
    if "pattern" in schema:
        try:
            re.compile(schema["pattern"])
        except (re.error, TypeError) as exc:
            raise SchemaError(f"{where}: invalid pattern: {exc}") from None


def to_json_schema(spec: Mapping[str, Any], where: str = "#") -> dict[str, Any]:
    """Convert one XO schema to a plain JSON schema (a new dict; ``spec`` is left untouched)."""
    _check_keywords(spec, where)
    schema = {key: value for key, value in spec.items() if key != "optional"}
    if "enum" in schema:
        return schema
    types = _types_of(spec, where)
    if types:
        schema["type"] = types[0] if len(types) == 1 else list(types)
    schema.pop("nullable", None)

    if "array" in types and "items" in spec:
        items = spec["items"]
        if isinstance(items, list):
            schema["items"] = [to_json_schema(s, f"{where}/items/{i}") for i, s in enumerate(items)]
        else:
            schema["items"] = to_json_schema(items, f"{where}/items")

    if "object" in types:
        properties = spec.get("properties", {})
        if not isinstance(properties, Mapping):
            raise SchemaError(f"{where}: properties must be an object")
        converted = {
            key: to_json_schema(value, f"{where}/properties/{key}")
            for key, value in properties.items()
        }
        additional = spec.get("additionalProperties")
        if additional is None:
            wildcard = converted.pop("*", None)
            schema["additionalProperties"] = (not converted) if wildcard is None else wildcard
        elif isinstance(additional, Mapping):
            schema["additionalProperties"] = to_json_schema(
                additional, f"{where}/additionalProperties"
            )
        elif not isinstance(additional, bool):
            raise SchemaError(f"{where}: additionalProperties must be a boolean or a schema")
        schema["properties"] = converted
        if "required" not in spec:
            required = [k for k in converted if not properties[k].get("optional", False)]
            if required:
                schema["required"] = required
        elif not isinstance(spec["required"], list):
            raise SchemaError(f"{where}: required must be a list")
    elif "properties" in spec:
        schema["properties"] = {
            key: to_json_schema(value, f"{where}/properties/{key}")
            for key, value in spec["properties"].items()
        }

    if "string" in types and not {"minLength", "format", "pattern"} & set(spec):
        schema["minLength"] = 1
    return schema


# -- validation ---------------------------------------------------------------------------------


def _type_matches(value: Any, t: str) -> bool:
    if t == "string":
        return isinstance(value, str)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "null":
        return value is None
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if t == "number":
        return True
    return isinstance(value, int) or value.is_integer()  # integer


def json_equal(a: Any, b: Any) -> bool:
    """Deep equality with JSON's types: ``1 != true``, ``1 == 1.0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _pointer(path: str, key: str | int) -> str:
    return f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"


def _error(ipath: str, spath: str, keyword: str, params: dict[str, Any], message: str) -> Error:
    return {
        "instancePath": ipath,
        "schemaPath": f"{spath}/{keyword}",
        "keyword": keyword,
        "params": params,
        "message": message,
    }


def _check_number(s: Mapping[str, Any], v: float, ip: str, sp: str, errors: list[Error]) -> None:
    for keyword, comparison, ok in (
        ("maximum", "<=", lambda limit: v <= limit),
        ("minimum", ">=", lambda limit: v >= limit),
        ("exclusiveMaximum", "<", lambda limit: v < limit),
        ("exclusiveMinimum", ">", lambda limit: v > limit),
    ):
        if keyword in s and not ok(s[keyword]):
            limit = s[keyword]
            errors.append(
                _error(
                    ip,
                    sp,
                    keyword,
                    {"comparison": comparison, "limit": limit},
                    f"must be {comparison} {limit}",
                )
            )


def _check_string(s: Mapping[str, Any], v: str, ip: str, sp: str, errors: list[Error]) -> None:
    if "maxLength" in s and len(v) > s["maxLength"]:
        n = s["maxLength"]
        errors.append(
            _error(ip, sp, "maxLength", {"limit": n}, f"must NOT have more than {n} characters")
        )
    if "minLength" in s and len(v) < s["minLength"]:
        n = s["minLength"]
        errors.append(
            _error(ip, sp, "minLength", {"limit": n}, f"must NOT have fewer than {n} characters")
        )
    if "pattern" in s and re.search(s["pattern"], v) is None:
        p = s["pattern"]
        errors.append(_error(ip, sp, "pattern", {"pattern": p}, f'must match pattern "{p}"'))


def _check_array(s: Mapping[str, Any], v: list[Any], ip: str, sp: str, errors: list[Error]) -> None:
    if "maxItems" in s and len(v) > s["maxItems"]:
        n = s["maxItems"]
        errors.append(
            _error(ip, sp, "maxItems", {"limit": n}, f"must NOT have more than {n} items")
        )
    if "minItems" in s and len(v) < s["minItems"]:
        n = s["minItems"]
        errors.append(
            _error(ip, sp, "minItems", {"limit": n}, f"must NOT have fewer than {n} items")
        )
    if s.get("uniqueItems") is True:
        for i in range(len(v) - 1, 0, -1):
            j = next((j for j in range(i - 1, -1, -1) if json_equal(v[i], v[j])), None)
            if j is not None:
                errors.append(
                    _error(
                        ip, sp, "uniqueItems", {"i": i, "j": j},
                        f"must NOT have duplicate items (items ## {j} and {i} are identical)",
                    )
                )  # fmt: skip
                break
    items = s.get("items")
    if isinstance(items, list):
        for index, (item_schema, item) in enumerate(zip(items, v, strict=False)):
            _check(item_schema, item, _pointer(ip, index), f"{sp}/items/{index}", errors)
    elif isinstance(items, Mapping):
        for index, item in enumerate(v):
            _check(items, item, _pointer(ip, index), f"{sp}/items", errors)


def _check_object(
    s: Mapping[str, Any], v: dict[str, Any], ip: str, sp: str, errors: list[Error]
) -> None:
    properties: Mapping[str, Any] = s.get("properties", {})
    for key, prop in properties.items():
        if key not in v and "default" in prop:
            v[key] = copy.deepcopy(prop["default"])
    for key in s.get("required", ()):
        if key not in v:
            errors.append(
                _error(
                    ip,
                    sp,
                    "required",
                    {"missingProperty": key},
                    f"must have required property '{key}'",
                )
            )
    additional = s.get("additionalProperties", True)
    if additional is not True:
        for key in v:
            if key in properties:
                continue
            if additional is False:
                errors.append(
                    _error(
                        ip, sp, "additionalProperties", {"additionalProperty": key},
                        "must NOT have additional properties",
                    )
                )  # fmt: skip
            else:
                _check(additional, v[key], _pointer(ip, key), f"{sp}/additionalProperties", errors)
    for key, prop in properties.items():
        if key in v:
            _check(prop, v[key], _pointer(ip, key), f"{sp}/properties/{key}", errors)


def _type_allows(s: Mapping[str, Any], v: Any) -> bool:
    declared = s.get("type")
    if declared is None:
        return True
    types = (declared,) if isinstance(declared, str) else tuple(declared)
    return any(_type_matches(v, t) for t in types)


def _check(s: Mapping[str, Any], v: Any, ip: str, sp: str, errors: list[Error]) -> None:
    if not _type_allows(s, v):
        declared = s["type"]
        shown = declared if isinstance(declared, str) else ",".join(declared)
        errors.append(_error(ip, sp, "type", {"type": declared}, f"must be {shown}"))
        # Keywords of the other types do not apply to a value of the wrong type (Ajv's groups).
    elif isinstance(v, int | float) and not isinstance(v, bool):
        _check_number(s, v, ip, sp, errors)
    elif isinstance(v, str):
        _check_string(s, v, ip, sp, errors)
    elif isinstance(v, list):
        _check_array(s, v, ip, sp, errors)
    elif isinstance(v, dict):
        _check_object(s, v, ip, sp, errors)
    if "enum" in s and not any(json_equal(v, allowed) for allowed in s["enum"]):
        errors.append(
            _error(
                ip,
                sp,
                "enum",
                {"allowedValues": s["enum"]},
                "must be equal to one of the allowed values",
            )
        )


def validate(schema: Mapping[str, Any], value: Any) -> list[Error]:
    """Every error of ``value`` against a converted schema; fills defaults into ``value``."""
    errors: list[Error] = []
    _check(schema, value, "", "#", errors)
    return errors


class ParamsValidator:
    """A method's compiled params schema (``None`` spec: no validation, as in XO)."""

    def __init__(self, spec: Mapping[str, Any] | None, where: str = "params") -> None:
        self.spec = spec
        if spec is None:
            self.schema: dict[str, Any] | None = None
            self.known: frozenset[str] | None = None
            return
        if not isinstance(spec, Mapping):
            raise SchemaError(f"{where}: params must be an object of property schemas")
        self.schema = to_json_schema({"type": "object", "properties": dict(spec)}, where)
        self.known = frozenset(spec) - {"*"} if spec and "*" not in spec else None

    def accepts_key(self, key: str) -> bool:
        """Whether a ``key?`` ignorable param may be kept as ``key``."""
        return self.known is None or key in self.known

    def validate(self, params: dict[str, Any]) -> list[Error]:
        """Errors of ``params`` (defaults are filled into it); [] when valid."""
        if self.schema is None:
            return []
        return validate(self.schema, params)
