"""Cells of a table as text: one rule for validation, recoding and expressions."""

from __future__ import annotations

import numpy as np
import pandas as pd


def cell_text(value: object, date_format: str | None = None) -> object:
    """A typed cell as the text a person would have typed (1.0 -> "1", True -> "1", a date in
    ``date_format``), or ``pd.NA`` where it is missing (None, NaN, pd.NA, NaT).

    The one rule by which a table's cells are judged against its dictionary (whatever the file
    type), matched against a ``map:`` code, or compared with a text literal in an expression.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return pd.NA
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return pd.NA
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (pd.Timestamp, np.datetime64)) or hasattr(value, "strftime"):
        return pd.Timestamp(value).strftime(date_format or "%Y-%m-%d")
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return str(value).strip()
