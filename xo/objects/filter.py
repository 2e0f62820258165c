"""``compile_filter``: the ``filter`` param of ``xo.getAllObjects`` (and friends) as a predicate.

- ``None`` or ``{}``: everything.
- a dict: lodash ``_.matches`` - partial deep equality: every key of the filter must be in the
  object with a matching value; nested dicts match partially; a list in the filter matches a list
  in the object that contains a match for each of its items (any order); scalars compare with
  JavaScript's strict equality (``true`` is not ``1``).
- a string: XO's complex-matcher syntax (:mod:`.complex_matcher`).

Invalid filters raise ValueError (the API layer maps it to XO's invalid-parameters error).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from . import complex_matcher

Predicate = Callable[[dict[str, Any]], bool]

# Deeper filter objects are not real filters; this keeps matching out of the recursion limit.
MAX_DEPTH = 32


def compile_filter(filter: dict[str, Any] | str | None) -> Predicate:
    """A predicate over XO objects; ValueError for an invalid filter."""
    if filter is None:
        return _everything
    if isinstance(filter, str):
        return complex_matcher.parse(filter)
    if isinstance(filter, dict):
        _check_depth(filter, 0)
        if not filter:
            return _everything
        source = filter
        return lambda obj: _is_match(obj, source)
    raise ValueError("invalid filter: expected an object or a string")


def _everything(obj: dict[str, Any]) -> bool:
    return True


def _check_depth(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"invalid filter: nested more than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for item in value.values():
            _check_depth(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_depth(item, depth + 1)


def _is_match(obj: Any, source: dict[str, Any]) -> bool:
    if not isinstance(obj, dict):
        return not source
    for key, expected in source.items():
        if key not in obj or not _partial_equal(obj[key], expected):
            return False
    return True


def _partial_equal(value: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(value, dict) and _is_match(value, expected)
    if isinstance(expected, list):
        if not isinstance(value, list):
            return False
        return all(any(_partial_equal(item, wanted) for item in value) for wanted in expected)
    return _same_value_zero(value, expected)


def _same_value_zero(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return a == b
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return type(a) is type(b) and a == b
