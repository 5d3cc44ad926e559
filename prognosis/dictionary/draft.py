"""Draft a data dictionary from a table: ``prognosis dictionary draft TABLE``.

Types, levels, ranges, missing tokens and key candidates are inferred from the data; the YAML is
written as text (not ``yaml.dump``) so that it carries comments where the user must decide:
reference levels, plausible limits, units, which binary column is the event. The draft declares
every column so that it validates the very table it came from; it is a start, not a judgement.

Comments quote nothing of a single patient: levels and ranges are what a dictionary holds, and
key candidates are named by column only.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from prognosis.dictionary.model import DataDictionary
from prognosis.dictionary.validate import to_text

logger = logging.getLogger(__name__)

__all__ = ["ColumnDraft", "TableDraft", "draft_table", "render_dictionary", "MISSING_TOKENS"]

#: Cell values that usually mean "missing"; those present in the table go under ``missing:``.
MISSING_TOKENS = ("", "NA", "N/A", "na", "n/a", "NaN", "nan", "NULL", "null", "None", ".", "?",
                  "unknown", "Unknown", "UNKNOWN", "missing", "Missing")
#: Numbers often used as "unknown" codes; flagged in a comment, never declared missing by the draft.
SENTINELS = (-9.0, -99.0, -999.0, -9999.0, 99.0, 999.0, 9999.0, 99999.0, 888.0, 8888.0)
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y")
MAX_LEVELS = 20            # more distinct texts than this: a string, not a categorical
MAX_CODED_LEVELS = 4       # integers 1..4 in a column of 10 or more rows read as codes (grade, stage)
_ID_NAME = re.compile(r"id$|^id|patient|key$|(^|_)(no|nr|number)$", re.IGNORECASE)
_EVENT_NAME = re.compile(r"event|status|death|dead|died|cens|relapse|recur|progress|fail", re.IGNORECASE)
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


@dataclass(frozen=True)
class ColumnDraft:
    """What the draft infers for one column."""

    name: str
    type: str
    levels: tuple[str, ...] = ()
    level_order: str | None = None          # "numeric" or "frequency"
    min: float | None = None
    max: float | None = None
    data_min: float | None = None
    data_max: float | None = None
    date_format: str | None = None
    date_formats_ambiguous: bool = False
    n_missing: int = 0
    unique: bool = False
    sentinels: tuple[float, ...] = ()


@dataclass(frozen=True)
class TableDraft:
    """A drafted dictionary: the table's name, its columns, missing tokens and key."""

    table: str
    source: str
    n_rows: int
    columns: tuple[ColumnDraft, ...]
    missing: tuple[str, ...]
    key: str | None
    key_candidates: tuple[str, ...]

    def column(self, name: str) -> ColumnDraft:
        return next(c for c in self.columns if c.name == name)


def _outward(low: float, high: float) -> tuple[float, float]:
    """``low`` down and ``high`` up to a step of a tenth of the range's order of magnitude."""
    spread = high - low
    step = 10.0 ** (math.floor(math.log10(spread)) - 1) if spread > 0 else 1.0
    step = max(step, 10.0 ** math.floor(math.log10(max(abs(low), abs(high)))) / 100) if (low or high) else step
    return math.floor(low / step) * step, math.ceil(high / step) * step


def _number_text(x: float) -> str:
    return f"{round(x, 10):.10g}"


def _sentinels(numbers: np.ndarray) -> tuple[float, ...]:
    """Sentinel codes that sit apart from the rest: the column's extreme, with no near neighbour."""
    found = []
    distinct = np.unique(numbers)
    for code in SENTINELS:
        if code not in distinct or len(distinct) < 3:
            continue
        others = distinct[distinct != code]
        if code > 0 and code == distinct[-1] and others[-1] <= code / 2:
            found.append(code)
        elif code < 0 and code == distinct[0] and others[0] >= 0:
            found.append(code)
    return tuple(found)


def _date_format(values: pd.Series) -> tuple[str | None, bool]:
    fitting = [f for f in DATE_FORMATS if pd.to_datetime(values, format=f, errors="coerce").notna().all()]
    return (fitting[0], len(fitting) > 1) if fitting else (None, False)


def _draft_column(name: str, raw: pd.Series, text: pd.Series, missing: set[str]) -> ColumnDraft:
    is_missing = text.isna() | text.isin(missing)
    values = text[~is_missing].astype(str)
    n_missing = int(is_missing.sum())
    unique = n_missing == 0 and len(values) > 0 and values.is_unique
    common = {"n_missing": n_missing, "unique": unique}
    if values.empty:
        return ColumnDraft(name, "string", **common)
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return ColumnDraft(name, "date", date_format="%Y-%m-%d", **common)
    distinct = pd.unique(values)
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all() and np.isfinite(numbers.to_numpy(dtype=float)).all():
        x = numbers.to_numpy(dtype=float)
        if set(distinct) <= {"0", "1"}:
            return ColumnDraft(name, "binary", **common)
        if (len(distinct) <= MAX_CODED_LEVELS and len(values) >= 10 and np.all(x == np.round(x))
                and len(set(x)) == len(distinct) and not unique):
            # each code written one way only ("1", never also "1.0"), else the level would not match
            ordered = tuple(sorted(distinct, key=float))
            return ColumnDraft(name, "categorical", levels=ordered, level_order="numeric", **common)
        low, high = _outward(float(x.min()), float(x.max()))
        return ColumnDraft(name, "numeric", min=low, max=high, data_min=float(x.min()), data_max=float(x.max()),
                           sentinels=_sentinels(x), **common)
    date_format, ambiguous = _date_format(values)
    if date_format is not None:
        return ColumnDraft(name, "date", date_format=date_format, date_formats_ambiguous=ambiguous, **common)
    if len(distinct) <= MAX_LEVELS and len(distinct) <= len(values) / 2:
        if all(level.upper() in _ROMAN for level in distinct):   # grade I, II, III; stage I-IV
            ordered = tuple(sorted(distinct, key=lambda level: _ROMAN.index(level.upper())))
            return ColumnDraft(name, "categorical", levels=ordered, level_order="numeric", **common)
        counts = values.value_counts()
        ordered = tuple(sorted(counts.index, key=lambda level: (-counts[level], level)))
        return ColumnDraft(name, "categorical", levels=ordered, level_order="frequency", **common)
    return ColumnDraft(name, "string", **common)


def draft_table(raw: pd.DataFrame, *, table: str, source: str | Path = "") -> TableDraft:
    """Infer a dictionary for ``raw``.

    Parameters
    ----------
    raw : DataFrame
        The table as :func:`prognosis.cohort.readers.read_raw` returns it.
    table : str
        The table's name (``table:`` in the dictionary).
    source : str or Path
        The file it came from, named in the draft's first comment.

    Returns
    -------
    TableDraft
        Render it with :func:`render_dictionary`.
    """
    raw = raw.reset_index(drop=True)
    raw.columns = [str(c) for c in raw.columns]
    text = to_text(raw, DataDictionary(table=table, columns={}, missing=()))
    present = set(text.stack().astype(str).unique()) if len(text) else set()
    # an empty cell is read as NA by the CSV reader; "" must stay a missing token for other readers
    missing = tuple(t for t in MISSING_TOKENS if t == "" or t in present)
    columns = tuple(_draft_column(name, raw[name], text[name], set(missing)) for name in raw.columns)
    candidates = tuple(c.name for c in columns if c.unique)
    named = [c for c in candidates if _ID_NAME.search(c)]
    strings = [c.name for c in columns if c.unique and c.type == "string"]
    key = (named or strings or [None])[0]
    if key is not None:   # an identifier is text, whatever it looks like
        columns = tuple(ColumnDraft(c.name, "string", n_missing=0, unique=True) if c.name == key else c for c in columns)
    return TableDraft(table, str(source), len(raw), columns, missing, key, candidates)


def _quote(text: str) -> str:
    """A YAML scalar: as it is when plain and unambiguous, else double-quoted (JSON is valid YAML)."""
    if _PLAIN_NAME.match(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text, ensure_ascii=False)


def looks_like_event(column: ColumnDraft) -> bool:
    return column.type == "binary" and bool(_EVENT_NAME.search(column.name))


def _column_lines(column: ColumnDraft, draft: TableDraft) -> list[str]:
    lines = [f"  {_quote(column.name)}:"]
    add = lines.append
    add(f"    type: {column.type}")
    if column.name == draft.key:
        add("    required: true")
        add("    label: Identifier")
        return lines
    if column.type == "numeric":
        add(f"    min: {_number_text(column.min)}    # ? the data's smallest value rounded down: set a plausible limit")
        add(f"    max: {_number_text(column.max)}    # ? the data's largest value rounded up: set a plausible limit")
        add("    # unit: ?    (years, mm, days...: used in reports and for the follow-up time)")
        for code in column.sentinels:
            where = "largest" if code > 0 else "smallest"
            add(f"    # ? {_number_text(code)} is this column's {where} value, far from the others, and a common "
                f"code for 'unknown': if it means missing, add \"{_number_text(code)}\" to `missing:` above "
                f"(it applies to every column) and set {'max' if code > 0 else 'min'}")
    elif column.type == "categorical":
        shown = ", ".join(_quote(level) for level in column.levels)
        add(f"    levels: [{shown}]")
        if column.level_order == "numeric":
            add("    # ? levels sorted as numbers (or Roman numerals); the first is the reference level. If these are counts or a "
                "measurement, declare the column numeric")
        else:
            add("    # ? levels by frequency, most common first; the first is the reference level: reorder to choose it")
    elif column.type == "binary":
        if looks_like_event(column):
            add("    # ? the endpoint's event? then 1 must mean the event happened (died, relapsed), 0 censored")
        else:
            add("    # ? 0/1: say in the label what 1 means")
    elif column.type == "date":
        add(f"    format: {_quote(column.date_format)}")
        if column.date_formats_ambiguous:
            add("    # ? every date also reads in another day/month order: check the format")
    elif column.n_missing < draft.n_rows:
        add("    # ? free text or an identifier; declare it categorical with levels to use it in an analysis")
    if column.n_missing == draft.n_rows:
        add("    # ? every cell is missing in this table")
    add(f"    label: {_quote(column.name)}    # ?")
    return lines


def render_dictionary(draft: TableDraft) -> str:
    """The draft as YAML text with comments; lines marked ``?`` need the user's decision."""
    lines = [
        f"# Draft data dictionary of {Path(draft.source).name or draft.table} ({draft.n_rows} rows), "
        "written by `prognosis dictionary draft`.",
        "# Lines marked ? need your decision: plausible min/max, units, labels, reference levels (the",
        "# first level), what 1 means in binary columns. Format: data_dictionary/README.md.",
        f"table: {_quote(draft.table)}",
    ]
    others = [c for c in draft.key_candidates if c != draft.key]
    if draft.key is not None:
        note = f"    # also unique in every row: {', '.join(others)}" if others else ""
        lines.append(f"key: {_quote(draft.key)}{note}")
    elif draft.key_candidates:
        lines.append(f"# key: ?    unique in every row: {', '.join(draft.key_candidates)}; set the join key if one is")
    else:
        lines.append("# key: ?    no column is unique and complete in every row")
    shown = ", ".join(json.dumps(t, ensure_ascii=False) for t in draft.missing)
    lines.append(f"missing: [{shown}]    # ? tokens found that usually mean missing: remove any that is a real value")
    lines.append("allow_extra: false")
    lines.append("columns:")
    for column in draft.columns:
        lines.extend(_column_lines(column, draft))
    return "\n".join(lines) + "\n"


def draft_paths(tables: Sequence[str | Path]) -> list[str]:
    """Table names for files: their stems, made unique by a number when two files share a stem."""
    names: list[str] = []
    for path in tables:
        stem = re.sub(r"\W+", "_", Path(path).stem).strip("_") or "table"
        name, i = stem, 2
        while name in names:
            name, i = f"{stem}_{i}", i + 1
        names.append(name)
    return names
