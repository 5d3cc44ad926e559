"""Every CSV prognosis writes goes through here, so that no cell can run as a spreadsheet formula.

A spreadsheet opening a CSV treats a cell that begins with ``=``, ``+``, ``-`` or ``@`` (or a tab
or carriage return) as a formula, and a PatientID or file name is under whoever named it
(CSV or formula injection; OWASP). Text cells that begin so get a leading single quote, which
spreadsheets read as "this is text". Numbers are left alone, so a negative number in a numeric
column stays a number; Parquet outputs keep the true values.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> object:
    """``"'" + value`` for a text that a spreadsheet would read as a formula; anything else as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot be read as formulas (see the module docstring).

    Only text columns (object, string, categorical) change; numeric, boolean and date columns
    are returned as they are.
    """
    changed = {}
    for position, (name, column) in enumerate(frame.items()):
        if is_numeric_dtype(column.dtype) or is_bool_dtype(column.dtype) or column.dtype.kind in "mM":
            continue
        values = column.astype(object) if isinstance(column.dtype, pd.CategoricalDtype) else column
        if any(isinstance(v, str) and v.startswith(FORMULA_STARTS) for v in values):
            changed[position] = values.map(neutralise_cell, na_action="ignore")
    if not changed:
        return frame
    out = frame.copy()
    for position, column in changed.items():
        out.isetitem(position, column)
    return out


def write_csv(frame: pd.DataFrame, path: str | Path | None = None, **kwargs) -> str | None:
    """``frame.to_csv(path, **kwargs)`` with formulas neutralised; returns the text if ``path`` is None."""
    return neutralise_formulas(frame).to_csv(path, **kwargs)
