"""XAPI datetimes -> Unix seconds, the way XO's ``toTimestamp`` reports them.

Accepted inputs: ``datetime`` (naive = UTC), numbers, ``"YYYYMMDDTHH:MM:SSZ"`` (XML-RPC and
JSON-RPC), the same with a ``+HH:MM`` offset or with dashes, and numeric strings
(``"1675817747."``). The epoch (XAPI's "unset") and anything unparsable give None: XO logs and
returns null, it never fails the object.
"""

from __future__ import annotations

import datetime as dt
import re

_XAPI_RE = re.compile(
    r"(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?\Z"
)
_NUMBER_RE = re.compile(r"\d+(?:\.\d*)?\Z")


def _integral(value: float) -> int | float:
    return int(value) if value == int(value) else value


def to_timestamp(value: object) -> int | float | None:
    """Unix seconds (int when whole) or None for unset/invalid dates."""
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


def _parse_string(text: str) -> float | None:
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
