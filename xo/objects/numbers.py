"""JavaScript's unary ``+value``, which XO's transforms apply to XAPI strings and ints.

``NaN`` has no JSON form: JSON.stringify writes ``null``, so we return None.
"""

from __future__ import annotations

from typing import Any


def js_number(value: Any) -> int | float | None:
    """``+value`` as JSON sees it: ints stay ints, ``"7.2"`` -> 7.2, ``""`` -> 0, junk -> None."""
    if value is None:
        return None  # +undefined is NaN (+null would be 0, but XAPI has no nulls)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    text = str(value).strip()
    if text == "":
        return 0
    if len(text) > 64:
        return None
    try:
        return int(text, 10)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    return int(number) if number.is_integer() and abs(number) < 2**53 else number
