"""XO's complex-matcher filter language (``packages/complex-matcher``), parsed and evaluated.

Grammar (whitespace separates terms; the top level is an AND of terms)::

    term     := "(" term+ ")"                       AND group
              | "|(" term+ ")"                      OR group
              | "!" term                            NOT
              | ("<" | "<=" | ">" | ">=") raw       number comparison
              | property ":" term                   property match
              | property "?"                        truthy property
              | value
    property := quoted | raw
    value    := quoted                              substring, case-insensitive
              | "/" pattern "/" ["i"]               regular expression (search)
              | raw                                 number (equal, or substring of strings) or
                                                    glob with "*" (case-insensitive search)

Raw strings are letters (any script), digits and ``_ - . $``. Strings match case-insensitive
substrings; values that are lists or objects match when any element does.

Limits: hostile input fails with ValueError, never hangs: the source is capped at
``MAX_LENGTH`` characters, nesting at ``MAX_DEPTH``, regular expressions at ``MAX_REGEX``, and
patterns with a quantified group that itself contains a quantifier (``(a+)+``, the shape of
catastrophic backtracking: Python's ``re`` has no timeout) or with backreferences are refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

# A filter typed by a person or sent by the web UI is a few hundred characters; 10,000 leaves
# room for generated ones while keeping parse time in microseconds.
MAX_LENGTH = 10_000
# Nesting deeper than this is not a real filter (and would exhaust Python's recursion limit).
MAX_DEPTH = 64
MAX_REGEX = 1_000

Matcher = Callable[[Any], bool]

_RAW_SYMBOLS = frozenset("_-.$")


def _is_raw_char(c: str) -> bool:
    # digits, the four symbols, or any character that has distinct upper/lower case (letters)
    return ("0" <= c <= "9") or c in _RAW_SYMBOLS or c.upper() != c.lower()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.end = len(text)
        self.depth = 0

    def fail(self, expected: str) -> ValueError:
        return ValueError(f"invalid filter: expected {expected} at position {self.pos}")

    def ws(self) -> None:
        text, pos, end = self.text, self.pos, self.end
        while pos < end and text[pos].isspace():
            pos += 1
        self.pos = pos

    def parse(self) -> Matcher:
        self.ws()
        terms = []
        while self.pos < self.end:
            terms.append(self.term())
        return _and(terms) if terms else (lambda value: True)

    # -- terms ----------------------------------------------------------------------------------

    def term(self) -> Matcher:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ValueError(f"invalid filter: nested more than {MAX_DEPTH} levels")
        try:
            matcher = self._term()
        finally:
            self.depth -= 1
        self.ws()
        return matcher

    def _group(self) -> list[Matcher]:
        self.ws()
        terms = []
        while self.pos < self.end and self.text[self.pos] != ")":
            terms.append(self.term())
        if not terms:
            raise self.fail("a term")
        if self.pos >= self.end:
            raise self.fail("')'")
        self.pos += 1
        return terms

    def _term(self) -> Matcher:
        text, pos = self.text, self.pos
        c = text[pos]
        if c == "(":
            self.pos += 1
            return _and(self._group())
        if text.startswith("|", pos):
            self.pos += 1
            self.ws()
            if not text.startswith("(", self.pos):
                raise self.fail("'('")
            self.pos += 1
            return _or(self._group())
        if c == "!":
            self.pos += 1
            self.ws()
            if self.pos >= self.end:
                raise self.fail("a term")
            child = self.term()
            return lambda value: not child(value)
        if c in "<>":
            return self._comparison()
        start = self.pos
        name = self._property()
        if name is not None:
            after_name = self.pos
            self.ws()
            if self.pos < self.end and text[self.pos] == ":":
                self.pos += 1
                self.ws()
                if self.pos >= self.end:
                    raise self.fail("a term")
                return _property(name, self.term())
            self.pos = after_name
            if self.pos < self.end and text[self.pos] == "?":
                self.pos += 1
                return _truthy(name)
            self.pos = start
        return self._value()

    def _comparison(self) -> Matcher:
        op = self.text[self.pos]
        self.pos += 1
        if self.pos < self.end and self.text[self.pos] == "=":
            op += "="
            self.pos += 1
        raw = self._raw()
        if raw is None:
            raise self.fail("a number")
        try:
            number = float(raw)
        except ValueError:
            raise self.fail("a number") from None
        if math.isnan(number):
            raise self.fail("a number")
        return _comparison(op, number)

    def _property(self) -> str | None:
        if self.pos < self.end and self.text[self.pos] == '"':
            return self._quoted()
        return self._raw()

    def _raw(self, glob: bool = False) -> str | None:
        text, pos, end = self.text, self.pos, self.end
        start = pos
        while pos < end and (_is_raw_char(text[pos]) or (glob and text[pos] == "*")):
            pos += 1
        self.pos = pos
        return text[start:pos] if pos > start else None

    def _quoted(self) -> str:
        text, end = self.text, self.end
        pos = self.pos + 1  # opening quote
        chars = []
        while pos < end and text[pos] != '"':
            if text[pos] == "\\" and pos + 1 < end:
                pos += 1
            chars.append(text[pos])
            pos += 1
        self.pos = min(pos + 1, end)  # closing quote (XO tolerates a missing one)
        return "".join(chars)

    def _value(self) -> Matcher:
        text = self.text
        c = text[self.pos]
        if c == '"':
            return _string(self._quoted())
        if c == "/":
            return self._regex()
        raw = self._raw(glob=True)
        if raw is None:
            raise self.fail("a value")
        if "*" in raw:
            return _glob(raw)
        number = _as_number(raw)
        return _string(raw) if number is None else _number_or_string(raw, number)

    def _regex(self) -> Matcher:
        text, end = self.text, self.end
        pos = self.pos + 1
        chars = []
        escaped = False
        while pos < end and (text[pos] != "/" or escaped):
            escaped = text[pos] == "\\" and not escaped
            chars.append(text[pos])
            pos += 1
        if pos >= end:
            self.pos = pos
            raise self.fail("'/'")
        pos += 1
        flags = 0
        if pos < end and text[pos] == "i":
            flags = re.IGNORECASE
            pos += 1
        self.pos = pos
        pattern = "".join(chars)
        if len(pattern) > MAX_REGEX:
            raise ValueError(f"invalid filter: regular expression longer than {MAX_REGEX}")
        if _is_expensive(pattern):
            raise ValueError("invalid filter: regular expression too expensive (nested quantifier)")
        try:
            compiled = re.compile(pattern, flags)
        except re.error as error:
            raise ValueError(f"invalid filter: bad regular expression: {error}") from None
        return _search(compiled)


def _is_expensive(pattern: str) -> bool:
    """A quantified group containing a quantifier ((a+)+, (a*)*, (x+y){2,}), or a backreference.

    One linear scan (a regex to detect this would itself backtrack)."""
    stack: list[bool] = []  # per open group: does it contain a quantifier?
    contains = False  # at the current level
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 < n and pattern[i + 1] in "123456789":
                return True
            i += 2
            continue
        if c == "[":  # character class: skip to its end
            i += 1
            while i < n and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
        elif c == "(":
            if pattern.startswith("(?P=", i):
                return True
            stack.append(contains)
            contains = False
        elif c == ")" and stack:
            inner = contains
            contains = stack.pop() or inner
            following = pattern[i + 1 : i + 2]
            if inner and following and following in "+*{":
                return True
        elif c in "+*{" or (c == "?" and i > 0 and pattern[i - 1] not in "(*+?}"):
            contains = True
        i += 1
    return False


def _as_number(raw: str) -> float | None:
    if "_" in raw:  # Python's float() accepts "1_000", JavaScript's + does not
        return None
    try:
        number = float(raw)
    except ValueError:
        return None
    return None if math.isnan(number) else number


# -- matchers ---------------------------------------------------------------------------------


def _some(value: Any, matcher: Matcher) -> bool:
    """lodash ``some`` over a list's items or an object's values."""
    if isinstance(value, dict):
        return any(matcher(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(matcher(item) for item in value)
    return False


def _and(terms: list[Matcher]) -> Matcher:
    if len(terms) == 1:
        return terms[0]
    return lambda value: all(term(value) for term in terms)


def _or(terms: list[Matcher]) -> Matcher:
    if len(terms) == 1:
        return terms[0]
    return lambda value: any(term(value) for term in terms)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _comparison(op: str, number: float) -> Matcher:
    compare: Callable[[Any, float], bool] = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }[op]
    return lambda value: _is_number(value) and compare(value, number)


def _property(name: str, child: Matcher) -> Matcher:
    def match(value: Any) -> bool:
        if value is None:
            return False
        if isinstance(value, dict):
            return child(value.get(name))
        if isinstance(value, list) and name.isdigit():  # JS arrays index by string
            index = int(name)
            return child(value[index] if index < len(value) else None)
        return child(None)

    return match


def _truthy(name: str) -> Matcher:
    def match(value: Any) -> bool:
        if isinstance(value, dict):
            return _js_truthy(value.get(name))
        return False

    return match


def _js_truthy(value: Any) -> bool:
    # JS: "", 0, NaN, null, undefined, false are falsy; [] and {} are truthy
    if isinstance(value, list | dict):
        return True
    if isinstance(value, float) and math.isnan(value):
        return False
    return bool(value)


def _string(text: str) -> Matcher:
    needle = text.lower()

    def match(value: Any) -> bool:
        if isinstance(value, str):
            return needle in value.lower()
        return _some(value, match)

    return match


def _number_or_string(text: str, number: float) -> Matcher:
    needle = text.lower()

    def match(value: Any) -> bool:
        if _is_number(value) and value == number:
            return True
        if isinstance(value, str):
            return needle in value.lower()
        return _some(value, match)

    return match


def _glob(pattern: str) -> Matcher:
    regex = re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.IGNORECASE)
    return _search(regex)


def _search(regex: re.Pattern[str]) -> Matcher:
    def match(value: Any) -> bool:
        if isinstance(value, str):
            return regex.search(value) is not None
        return _some(value, match)

    return match


def parse(text: str) -> Matcher:
    """Compile a complex-matcher string; ValueError on invalid or oversized input."""
    if not isinstance(text, str):
        raise ValueError("invalid filter: not a string")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"invalid filter: longer than {MAX_LENGTH} characters")
    return _Parser(text).parse()
