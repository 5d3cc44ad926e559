"""Whether a number read from YAML is one a computation can use."""

from __future__ import annotations

import math


def is_finite(value: int | float) -> bool:
    """False for inf, nan and integers too large for a float (YAML reads 1000...0 as a Python int)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False
