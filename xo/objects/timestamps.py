"""XAPI datetimes -> Unix seconds, the way XO's ``toTimestamp`` reports them.

Accepted inputs: ``datetime`` (naive = UTC), numbers, ``"YYYYMMDDTHH:MM:SSZ"`` (XML-RPC and
JSON-RPC), the same with a ``+HH:MM`` offset or with dashes, and numeric strings
(``"1675817747."``). The epoch (XAPI's "unset") and anything unparsable give None: XO logs and
returns null, it never fails the object.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

_XAPI_RE = re.compile(
    r"(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?\Z"
)
_NUMBER_RE = re.compile(r"\d+(?:\.\d*)?\Z")


def _integral(value: float) -> int | float:
    return int(value) if value == int(value) else value


def to_timestamp(value: object) -> int | float | None:
    """Unix seconds (int when whole) or None for unset/invalid dates."""
    if value.__class__ is str:
        return _string_timestamp(value)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        seconds: float = value.timestamp()
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        parsed = _parse_string(value)
        if parsed is None:
            return None
        seconds = parsed
    else:
        return None
    if seconds == 0 or seconds != seconds:  # epoch = unset; NaN
        return None
    return _integral(seconds)


@lru_cache(maxsize=4096)
def _string_timestamp(text: str) -> int | float | None:
    """`to_timestamp` of a plain str, cached: a pool's records repeat the same dates (boot
    times, the epoch) thousands of times in a full load."""
    seconds = _parse_string(text)
    if seconds is None or seconds == 0 or seconds != seconds:
        return None
    return _integral(seconds)


_EPOCH = "19700101T00:00:00Z"


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = (year if year >= 0 else year - 399) // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def _parse_xapi_fast(text: str) -> float | None:
    """``YYYYMMDDTHH:MM:SSZ``, the form of nearly every XAPI date: plain integer arithmetic."""
    try:
        year, month, day = int(text[0:4]), int(text[4:6]), int(text[6:8])
        hour, minute, second = int(text[9:11]), int(text[12:14]), int(text[15:17])
    except ValueError:
        return None
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return None
    return float(_days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second)


def _parse_string(text: str) -> float | None:
    if text == _EPOCH:
        return 0.0
    if len(text) == 18 and text[8] == "T" and text[17] == "Z" and text[11] == ":":
        fast = _parse_xapi_fast(text)
        if fast is not None:
            return fast
    text = text.strip()
    if len(text) > 40:
        return None
    if _NUMBER_RE.match(text):
        return float(text)
    match = _XAPI_RE.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    zone = match.group(7)
    tz = dt.UTC
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        return dt.datetime(year, month, day, hour, minute, second, tzinfo=tz).timestamp()
    except ValueError:
        return None
