"""Human sizes as XO accepts them in ``vm.set``/``vm.create``/``vdi.set`` (``parseSize``).

An integer is bytes; a string is a number with an optional unit: binary prefixes (``"2 GiB"``,
``"512Mi"``) are powers of 1024, decimal ones (``"1 GB"``, ``"10k"``) powers of 1000, ``"B"`` and
no unit are bytes. Anything else is a clear ``invalid parameters`` error.
"""

from __future__ import annotations

import re

from xo.api.errors import invalid_parameters

_POWERS = "kMGTPEZY"  # k = 1000 or 1024 (Ki), M = k**2...
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([kKMGTPEZY])(i)?)?B?\s*$")


def parse_size(value: int | float | str) -> int:
    """Bytes for ``value`` (see the module docstring)."""
    if isinstance(value, bool):
        raise invalid_parameters(f"invalid size: {value}")
    if isinstance(value, int | float):
        return int(value)
    match = _SIZE.match(value)
    if match is None:
        raise invalid_parameters(f"invalid size: {value}")
    number, prefix, binary = match.groups()
    if prefix is None:
        return int(float(number))
    power = _POWERS.index("k" if prefix == "K" else prefix) + 1
    base = 1024 if binary else 1000
    return int(float(number) * base**power)
