"""Durations as XO takes them: a number of milliseconds, or text like ``"30 days"`` / ``"1h"``.

Same units as the ``ms`` npm package that XO's ``parseDuration`` uses (a year is 365.25 days,
a month is not a unit). Pure.
"""

from __future__ import annotations

import math
import re

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY
YEAR = 365.25 * DAY

_UNITS: dict[str, float] = {}
for _names, _value in (
    (("years", "year", "yrs", "yr", "y"), YEAR),
    (("weeks", "week", "w"), WEEK),
    (("days", "day", "d"), DAY),
    (("hours", "hour", "hrs", "hr", "h"), HOUR),
    (("minutes", "minute", "mins", "min", "m"), MINUTE),
    (("seconds", "second", "secs", "sec", "s"), SECOND),
    (("milliseconds", "millisecond", "msecs", "msec", "ms"), 1),
):
    for _name in _names:
        _UNITS[_name] = _value

_DURATION = re.compile(r"^\s*(-?(?:\d+)?\.?\d+)\s*([a-z]*)\s*$", re.IGNORECASE)


class InvalidDuration(ValueError):
    pass


def parse_duration(value: int | float | str) -> float:
    """Milliseconds for ``value``; raises :class:`InvalidDuration` for anything else."""
    if isinstance(value, bool):
        raise InvalidDuration(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise InvalidDuration(f"not a finite duration: {value!r}")
        return float(value)
    if not isinstance(value, str) or len(value) > 100:
        raise InvalidDuration(f"not a duration: {value!r}")
    match = _DURATION.match(value)
    if match is None:
        raise InvalidDuration(f"not a duration: {value!r}")
    number, unit = match.groups()
    factor = _UNITS.get(unit.lower() or "ms")
    if factor is None:
        raise InvalidDuration(f"unknown duration unit {unit!r} in {value!r}")
    return float(number) * factor
