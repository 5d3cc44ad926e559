"""Every violation of a table as a file the user opens, and a per-column summary for the terminal.

``prognosis validate --report violations.csv`` writes one row per violation (file, row, column,
rule, value). The value is the user's own cell going to the user's own file; the summary shown on
the terminal counts violations per column and rule and quotes no value.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from prognosis._csv import neutralise_formulas, write_csv
from prognosis.errors import OutputError, Violation

logger = logging.getLogger(__name__)

__all__ = ["REPORT_COLUMNS", "REPORT_EXTENSIONS", "rule_family", "summarise", "violation_frame", "write_violations"]

REPORT_COLUMNS = ("file", "row", "column", "rule", "value")
REPORT_EXTENSIONS = (".csv", ".xlsx")


def rule_family(rule: str) -> str:
    """The rule without its row-specific detail, so that rows breaking one rule count together.

    ``"is a duplicate key (also rows 7 and 9)"`` and ``"is a duplicate key (also row 2)"`` are one
    rule in the summary; the report file keeps each full rule.
    """
    return rule.split(" (", 1)[0]


def violation_frame(violations: list[Violation]) -> pd.DataFrame:
    """One row per violation, in the order found: file, row (as a spreadsheet numbers it), column, rule, value."""
    return pd.DataFrame(
        {"file": [Path(v.path).name for v in violations],
         "row": pd.array([v.row for v in violations], dtype="Int64"),
         "column": [v.column for v in violations],
         "rule": [v.rule for v in violations],
         "value": [v.value for v in violations]},
        columns=list(REPORT_COLUMNS),
    )


def summarise(violations: list[Violation]) -> pd.DataFrame:
    """Violations counted per column and rule, most frequent first (columns ``column, rule, count``).

    A violation of the whole table (no column) is counted under the column ``(table)``.
    """
    frame = pd.DataFrame({"column": [v.column or "(table)" for v in violations],
                          "rule": [rule_family(v.rule) for v in violations]})
    counts = frame.groupby(["column", "rule"], sort=False).size().rename("count").reset_index()
    return counts.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)


def write_violations(violations: list[Violation], path: str | Path) -> Path:
    """Write every violation to ``path`` (``.csv`` or ``.xlsx``), cells neutralised against formulas.

    Raises
    ------
    OutputError
        The extension is neither ``.csv`` nor ``.xlsx``, or the file cannot be written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in REPORT_EXTENSIONS:
        raise OutputError(f"--report {path}: the report must end in {' or '.join(REPORT_EXTENSIONS)}", path=str(path))
    frame = violation_frame(violations)
    try:
        if suffix == ".csv":
            write_csv(frame, path, index=False)
        else:
            # openpyxl writes a text beginning with "=" as a formula: neutralise as for the CSV
            neutralise_formulas(frame).to_excel(path, index=False, sheet_name="violations")
    except OSError as exc:
        from prognosis._paths import explain_os_error

        raise OutputError(f"--report {path}: {explain_os_error(exc)}", path=str(path)) from None
    logger.debug("wrote %d violations to %s", len(frame), path)
    return path
