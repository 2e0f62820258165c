"""compile_filter: lodash _.matches for objects, XO's complex-matcher for strings."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xo.objects.filter import compile_filter

VM = {
    "type": "VM",
    "name_label": "Debian Web 01",
    "power_state": "Running",
    "tags": ["prod", "web"],
    "CPUs": {"max": 4, "number": 2},
    "memory": {"size": 2147483648},
    "size": 20,
    "auto_poweron": False,
    "notes": "",
    "$container": "host-1",
    "addresses": {"0/ipv4/0": "10.0.0.5"},
}

CASES = [
    # dict filters: lodash _.matches
    (None, True),
    ({}, True),
    ({"type": "VM"}, True),
    ({"type": "host"}, False),
    ({"type": "VM", "power_state": "Halted"}, False),
    ({"CPUs": {"max": 4}}, True),  # nested: partial
    ({"CPUs": {"max": 4, "other": 1}}, False),
    ({"tags": ["web"]}, True),  # arrays contain
    ({"tags": ["web", "prod"]}, True),  # any order
    ({"tags": ["dev"]}, False),
    ({"tags": []}, True),
    ({"tags": "prod"}, False),
    ({"auto_poweron": False}, True),
    ({"auto_poweron": 0}, False),  # strict equality: false is not 0
    ({"size": 20.0}, True),
    ({"missing": None}, False),
    # strings: complex-matcher
    ("", True),
    ("   ", True),
    ("type:VM", True),
    ("type:vm", True),  # case-insensitive substring
    ("type:host", False),
    ("name_label:web", True),
    ("debian", True),  # any value contains it
    ("nothing-like-this", False),
    ("!type:host", True),
    ("! type:VM", False),
    ("|(type:host type:VM)", True),
    ("|(type:host type:SR)", False),
    ("(type:VM power_state:running)", True),
    ("type:VM power_state:halted", False),
    ("size:>=20", True),
    ("size:>20", False),
    ("size:<21", True),
    ("size:<=19", False),
    ("size:20", True),
    ("CPUs:max:4", True),
    ("CPUs:number:4", False),
    ("tags:prod", True),
    ("tags:dev", False),
    ("name_label:/^debian/i", True),
    ("name_label:/^debian/", False),
    ("name_label:/Web \\d+/", True),
    ("name_label:deb*01", True),
    ("name_label:*web*", True),
    ("name_label:web*deb", False),
    ('name_label:"Web 01"', True),
    ('"debian web"', True),
    ("auto_poweron?", False),
    ("name_label?", True),
    ("notes?", False),
    ("missing?", False),
    ("$container:host-1", True),
    ("addresses:10.0.0", True),
    ("missing:x", False),
    ("!missing:x", True),
    ("2147483648", True),  # number anywhere
    ("memory:size:2147483648", True),
]


@pytest.mark.parametrize(("source", "expected"), CASES)
def test_filter_semantics(source, expected):
    assert compile_filter(source)(VM) is expected


@pytest.mark.parametrize(
    "source",
    [
        "(",
        "type:",
        "|(a",
        "|a",
        "!",
        "size:>x",
        "x:/unterminated",
        "(" * 100 + "a" + ")" * 100,
        "/(a+)+$/",
        "/(x*)*/",
        "/(a)\\1/",
        "x" * 20_000,
        42,
        ["a"],
        "name:/[/",
    ],
)
def test_invalid_filters_raise_value_error(source):
    with pytest.raises(ValueError):
        compile_filter(source)


def test_hostile_regex_input_is_refused_quickly():
    start = time.perf_counter()
    for source in ["/" + "(a+)+" * 100 + "/", "/" + "a" * 1001 + "/", "|(" * 60 + "a"]:
        with pytest.raises(ValueError):
            compile_filter(source)
    assert time.perf_counter() - start < 1


def test_deep_dict_filter_is_refused():
    deep: dict = {}
    node = deep
    for _ in range(100):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(ValueError):
        compile_filter(deep)


@given(st.text(max_size=200))
@settings(max_examples=500, deadline=None)
def test_parser_never_crashes_on_random_strings(source):
    try:
        predicate = compile_filter(source)
    except ValueError:
        return
    assert predicate(VM) in (True, False)


@given(st.text(alphabet='ab:|()!?*"/<>= \\x.', max_size=80))
@settings(max_examples=1000, deadline=None)
def test_parser_never_crashes_on_grammar_soup(source):
    try:
        predicate = compile_filter(source)
    except ValueError:
        return
    assert predicate({"a": "b", "x": [1, "ab"], "b": {"a": 2}}) in (True, False)
