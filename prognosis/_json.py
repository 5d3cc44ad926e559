"""Numbers for results.json: NaN and infinity are not JSON, so undefined values become null."""

from __future__ import annotations

import math


def finite_or_none(value: float | None) -> float | None:
    """``float(value)`` when finite; None for None, NaN or infinity."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
