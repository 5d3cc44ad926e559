"""The join of a study's tables on the patient key, with the flow of who is absent from which table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from prognosis.cohort.flow import FlowStep
from prognosis.cohort.readers import Table
from prognosis.dictionary.duplicates import describe_repeats, repeated_keys
from prognosis.errors import DataValidationError, Violation

#: The column holding each table's spreadsheet row in the joined frame: ``_row:<table>``.
ROW_PREFIX = "_row:"


def _repeated_keys(table: Table, key: str) -> list[Violation]:
    """One row per patient is what a survival analysis joins: name every repeated key (linear in rows)."""
    ids = table.data[key]
    rows = table.data.index.to_numpy()   # already the spreadsheet rows
    values = ids.to_numpy()
    suffix = f"; the analysis needs one row per {key} in every table"
    if "laterality" in table.data.columns:
        suffix += " (one row per breast? keep the tumour's side: prognosis extract --tumour-side)"
    return [Violation(table.path, int(rows[p]), key, str(values[p]), f"repeats the join key ({where}){suffix}")
            for p, where in describe_repeats(repeated_keys(ids), rows)]


def join_tables(tables: list[Table], key: str) -> tuple[pd.DataFrame, list[FlowStep], int]:
    """Inner-join the tables on ``key``: the joined frame (each table's spreadsheet row in
    ``_row:<table>``), the flow from the patients read (the union of keys) to those in every table,
    and the number read.

    Raises
    ------
    DataValidationError
        A table with no data row, or a key repeated within a table (every repeat named).
    """
    empty = [Violation(t.path, None, None, None, f"(table {t.name!r}) has a header but no data rows, so it gives "
                       "no patient to the join") for t in tables if t.n_rows == 0]
    if empty:
        raise DataValidationError(empty)
    repeated = [v for table in tables for v in _repeated_keys(table, key)]
    if repeated:
        raise DataValidationError(repeated)
    keyed = []
    for table in tables:
        frame = table.data.copy()
        frame[ROW_PREFIX + table.name] = frame.index.to_numpy()
        keyed.append(frame.set_index(key))
    union = pd.Index([], dtype=object)
    for frame in keyed:
        union = union.append(frame.index.difference(union, sort=False))
    counts = ", ".join(f"{t.name} ({t.n_rows} rows)" for t in tables)
    flow = [FlowStep("patients read", len(union), 0, len(union), f"union of {key} over {counts}")]
    present = union
    for table, frame in zip(tables, keyed):
        kept = present[present.isin(frame.index)]
        flow.append(FlowStep(f"present in {table.name}", len(present), len(present) - len(kept), len(kept),
                             f"no row in {Path(table.path).name}"))
        present = kept
    joined = pd.concat([frame.reindex(present) for frame in keyed], axis=1)
    joined.index.name = key
    return joined.reset_index(), flow, len(union)
