"""Sizes and durations as people write them in scenario files, turned into plain numbers.

Sizes follow Docker's ``--memory`` convention, where every unit is binary: ``512m``,
``512M``, ``512Mi`` and ``512MB`` all mean 512 MiB. A scenario that copies a limit from a
``docker run`` line or a cloud portal ("0.5Gi") must get the same number of bytes the
engine would, so decimal (SI) readings are deliberately not offered.

Both parsers raise :class:`ValueError` with a message that quotes the bad value and shows
the accepted forms; the model layer turns that into a :class:`~harness.errors.ScenarioError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from harness.units import GIB, KIB, MIB, TIB

# Every spelling of a unit, lower-cased, to its multiplier in bytes.
_SIZE_UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    **{spelling: KIB for spelling in ("k", "ki", "kb", "kib")},
    **{spelling: MIB for spelling in ("m", "mi", "mb", "mib")},
    **{spelling: GIB for spelling in ("g", "gi", "gb", "gib")},
    **{spelling: TIB for spelling in ("t", "ti", "tb", "tib")},
}

_DURATION_UNITS: dict[str, float] = {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

# A non-negative decimal number followed by an optional unit, spaces allowed between.
# A leading sign is captured so that "-5m" gets a "negative" message, not "not a size".
_QUANTITY = re.compile(r"^\s*([+-]?)(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*$")

SIZE_HINT = "use 512Mi, 0.5Gi, 512m or bytes"
DURATION_HINT = "use 500ms, 2s, 1.5s, 2m, 1h or a number of seconds"


def quote_value(value: object) -> str:
    """Quote a value the way it appears in YAML, so messages point at what was typed."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _split_quantity(text: str) -> tuple[str, Decimal, str] | None:
    """Split ``"0.5 Gi"`` into its sign, number and unit; None when it is not of that shape."""
    match = _QUANTITY.match(text)
    if match is None:
        return None
    sign, number, unit = match.groups()
    try:
        return sign, Decimal(number), unit
    except InvalidOperation:  # pragma: no cover - the regex only lets valid decimals through
        return None


def _quantity(value: object, units: Mapping[str, object], noun: str, hint: str) -> tuple[Decimal, str]:
    """The number and lower-cased unit of a quantity string such as ``"0.5Gi"`` or ``"2s"``.

    Raises ValueError naming the value when it is not a string of that shape, has a unit
    not in ``units``, or is negative.
    """
    parts = _split_quantity(value) if isinstance(value, str) else None
    if parts is None or parts[2].lower() not in units:
        raise ValueError(f"{quote_value(value)} is not a {noun} ({hint})")
    sign, number, unit = parts
    if sign == "-" and number != 0:
        raise ValueError(f"{quote_value(value)} is not a {noun}: {noun}s cannot be negative")
    return number, unit.lower()


def parse_size(value: int | str) -> int:
    """Return a size in bytes from an int of bytes or a string such as ``"0.5Gi"``.

    All units are binary (see the module docstring); a fractional result is rounded down
    to whole bytes. Booleans, negatives and anything unparseable raise ValueError.
    """
    if isinstance(value, bool):
        raise ValueError(f"{quote_value(value)} is not a size ({SIZE_HINT})")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} is not a size: sizes cannot be negative")
        return value
    if isinstance(value, float):
        # Not in the signature, but YAML reads "5.0e8" as a float: bytes, rounded down.
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{quote_value(value)} is not a size ({SIZE_HINT})")
        return math.floor(value)
    number, unit = _quantity(value, _SIZE_UNITS, "size", SIZE_HINT)
    return math.floor(number * _SIZE_UNITS[unit])


def parse_duration(value: int | float | str) -> float:
    """Return a duration in seconds from a number of seconds or a string such as ``"500ms"``.

    Units: ``ms``, ``s``, ``m`` (minutes), ``h``; a bare number means seconds. Booleans,
    negatives, NaN/infinity and anything unparseable raise ValueError.
    """
    if isinstance(value, bool):
        raise ValueError(f"{quote_value(value)} is not a duration ({DURATION_HINT})")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"{quote_value(value)} is not a duration ({DURATION_HINT})")
        if value < 0:
            raise ValueError(
                f"{quote_value(value)} is not a duration: durations cannot be negative"
            )
        return float(value)
    number, unit = _quantity(value, _DURATION_UNITS, "duration", DURATION_HINT)
    return float(number) * _DURATION_UNITS[unit]


def format_size(n: int) -> str:
    """Render bytes in the largest binary unit that keeps the number >= 1: ``"512 MiB"``.

    At most two decimals are shown and trailing zeros dropped (``"1.5 GiB"``), so the text
    reads like the value a scenario file would contain.
    """
    if isinstance(n, bool) or n < 0:
        raise ValueError(f"cannot format {quote_value(n)} as a size")
    for unit, name in ((TIB, "TiB"), (GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")):
        if n >= unit:
            number = f"{n / unit:.2f}".rstrip("0").rstrip(".")
            return f"{number} {name}"
    return f"{n} B"
