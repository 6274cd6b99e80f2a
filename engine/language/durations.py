"""The one duration parser: `30m`, `1h`, `2d`, `1w` (schemas/workflow.schema.json's `duration` pattern).

Definitions carry the Duration objects it makes (engine/language/compiler.py), parameters of type
duration are parsed by it (engine/language/parameters.py), and the scenario runner's `advance:`
step uses it too.
"""

from __future__ import annotations

import re
from datetime import timedelta

from engine.language.definition import Duration

__all__ = ["parse_duration"]

_DURATION = re.compile(r"^([1-9][0-9]{0,5})(m|h|d|w)$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> Duration:
    """`30m`, `1h`, `2d`, `1w` → Duration. Raises ValueError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 30m, 1h, 2d or 1w")
    amount, unit = match.groups()
    return Duration(timedelta(**{_UNITS[unit]: int(amount)}), text, int(amount), unit)
