"""Validate a raw table against its data dictionary, reporting every violation at once.

The table is first brought to text (so that a CSV, an Excel sheet and a Stata file are judged
alike), missing tokens and codes are applied, and a pandera schema then checks every cell
lazily. Only a table with no violation is coerced to its declared types.

A numeric cell must be a finite number: ``inf``, ``Infinity`` and ``nan`` (any case, signed) are
violations unless the dictionary lists the token under ``missing``. Repeated keys, single or
composite, are found in linear time and described in bounded messages
(:mod:`prognosis.dictionary.duplicates`); a header naming a column twice, or not at all, is
reported with the columns' positions before anything else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from prognosis._cells import cell_text
from prognosis.dictionary.duplicates import describe_repeats, repeated_keys, rows_sharing_a_key
from prognosis.dictionary.model import ColumnSpec, DataDictionary
from prognosis.errors import DataValidationError, Violation

logger = logging.getLogger(__name__)

__all__ = ["ROW_INDEX", "build_schema", "rows_sharing_a_key", "to_text", "validate_table"]

#: Name of the index of a validated table: the row number as a spreadsheet shows it.
ROW_INDEX = "row"
_HEADER_ROWS = 1
NOT_FINITE = ("is not a finite number (inf and nan are refused; if the column uses such a token for a "
              "missing value, list it under `missing` in the dictionary)")


def _column_text(column: pd.Series, date_format: str | None) -> pd.Series:
    if pd.api.types.infer_dtype(column, skipna=False) == "string":
        # A CSV's column: every cell already text, so strip them at once (not one call per cell).
        return column.str.strip().astype(object)
    return column.map(lambda v: cell_text(v, date_format)).astype(object)


def to_text(raw: pd.DataFrame, dictionary: DataDictionary) -> pd.DataFrame:
    """Every cell as stripped text or NA, missing tokens and categorical codes applied."""
    text = pd.DataFrame(index=raw.index)
    missing = set(dictionary.missing)
    for name in raw.columns:
        spec = dictionary.columns.get(str(name))
        date_format = spec.format if spec is not None else None
        column = _column_text(raw[name], date_format)
        column = column.where(~column.isin(missing), pd.NA)
        if spec is not None and spec.codes:
            column = column.map(lambda v: spec.codes.get(v, v) if isinstance(v, str) else v)
        text[str(name)] = column
    return text


def _as_number(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce")


# Spellings of "not a number" that parse (pandas reads them as NaN, so they look like a missing
# value, which they are not unless the dictionary lists them under `missing`).
_NAN_TEXT = ("nan", "+nan", "-nan")


def _nan_text(s: pd.Series) -> pd.Series:
    return s.map(lambda v: isinstance(v, str) and v.lower() in _NAN_TEXT).astype(bool)


def _parses_as_number(s: pd.Series) -> pd.Series:
    return s.isna() | _as_number(s).notna() | _nan_text(s)


def _is_finite_or_missing(s: pd.Series) -> pd.Series:
    # inf would be analysed as followed to the end of time, and nan silently as missing.
    return s.isna() | ~(np.isinf(_as_number(s)) | _nan_text(s))


def _date_parser(fmt: str) -> Callable[[pd.Series], pd.Series]:
    return lambda s: pd.to_datetime(s, format=fmt, errors="coerce")


def _finite_number(s: pd.Series) -> pd.Series:
    """The cells as numbers, infinite ones as NaN: a bound then passes them (NaN compares False)."""
    number = _as_number(s)
    return number.where(~np.isinf(number))


def _checks(spec: ColumnSpec) -> list[pa.Check]:
    """pandera checks for one column; each check's ``error`` is the rule the user reads."""
    if spec.type == "numeric":
        checks = [pa.Check(_parses_as_number, error="is not a number"),
                  pa.Check(_is_finite_or_missing, error=NOT_FINITE)]
        # An infinite value is reported once, as not finite, not also as beyond a bound.
        if spec.min is not None:
            low = spec.min
            checks.append(pa.Check(lambda s: ~(_finite_number(s) < low),
                                   error=f"is below the minimum {low:g}"))
        if spec.max is not None:
            high = spec.max
            checks.append(pa.Check(lambda s: ~(_finite_number(s) > high),
                                   error=f"is above the maximum {high:g}"))
        return checks
    if spec.type == "binary":
        return [pa.Check(lambda s: s.isna() | s.isin(["0", "1"]), error="is not 0 or 1")]
    if spec.type == "categorical":
        levels = list(spec.levels)
        shown = ", ".join(levels)
        return [pa.Check(lambda s: s.isna() | s.isin(levels), error=f"is not one of {{{shown}}}")]
    if spec.type == "date":
        parse = _date_parser(spec.format or "%Y-%m-%d")
        return [
            pa.Check(lambda s: s.isna() | parse(s).notna(), error=f"is not a date in the format {spec.format}")
        ]
    return []


def build_schema(dictionary: DataDictionary) -> pa.DataFrameSchema:
    """The pandera schema that judges the text form of a table."""
    columns = {
        name: pa.Column(
            None,
            checks=_checks(spec),
            nullable=not (spec.required or name in dictionary.key_columns),
            # an optional column may be absent; when present it is checked like any other
            required=not spec.optional,
        )
        for name, spec in dictionary.columns.items()
    }
    return pa.DataFrameSchema(columns, strict=not dictionary.allow_extra, name=dictionary.table)


def _violations(cases: pd.DataFrame, text: pd.DataFrame, path: str) -> list[Violation]:
    """Turn pandera's failure cases into located, readable violations."""
    found: list[Violation] = []
    for case in cases.itertuples(index=False):
        check = str(case.check)
        if case.index is None or (isinstance(case.index, float) and np.isnan(case.index)):
            # Whole-column problems: a declared column absent, or an undeclared one present.
            if check == "column_in_dataframe":
                rule = "declared in the dictionary but absent from the file"
                found.append(Violation(path, None, str(case.failure_case), None, rule))
            elif check == "column_in_schema":
                rule = "is not declared in the dictionary (declare it, or set allow_extra: true)"
                found.append(Violation(path, None, str(case.failure_case), None, rule))
            else:
                found.append(Violation(path, None, None if case.column is None else str(case.column), None, check))
            continue
        row = int(case.index) + _HEADER_ROWS + 1
        column = str(case.column)
        value = None if pd.isna(case.failure_case) else str(text.at[case.index, column])
        if check == "not_nullable":
            rule = "is missing, but the column is required" if value is None else "is missing"
            found.append(Violation(path, row, column, None, rule))
        else:
            found.append(Violation(path, row, column, value, check))
    return found


def _duplicate_keys(text: pd.DataFrame, dictionary: DataDictionary, path: str) -> list[Violation]:
    """Rows that repeat the key (one column or a composite), each naming where else it is.

    Linear in the number of rows: a key shared by thousands of rows gives each of them the same
    bounded message (see :func:`prognosis.dictionary.duplicates.describe_repeats`).
    """
    columns = dictionary.key_columns
    if not columns or not all(c in text.columns for c in columns):
        return []
    keys = text[list(columns)]
    label = " + ".join(columns)
    parts = [keys.iloc[:, j].astype(str) for j in range(len(columns))]   # by position: any name works
    values = (parts[0].str.cat(parts[1:], sep=" / ") if len(parts) > 1 else parts[0]).to_numpy()
    rows = np.arange(len(text)) + _HEADER_ROWS + 1
    return [Violation(path, int(rows[p]), label, values[p], f"is a duplicate key ({where})")
            for p, where in describe_repeats(repeated_keys(keys), rows)]


def _header_problems(columns: pd.Index, path: str) -> list[Violation]:
    """A name given twice, or none at all: the table cannot be read column by column."""
    found = []
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(columns, start=1):
        positions.setdefault(str(name), []).append(i)
    for name, where in positions.items():
        if name.strip() == "":
            listed = ", ".join(map(str, where))
            found.append(Violation(path, 1, None, None,
                                   f"column{'s' if len(where) > 1 else ''} {listed} of the header "
                                   f"{'have' if len(where) > 1 else 'has'} no name; name "
                                   f"{'them' if len(where) > 1 else 'it'} as in the dictionary, or delete "
                                   f"{'them' if len(where) > 1 else 'it'}"))
        elif len(where) > 1:
            times = "twice" if len(where) == 2 else f"{len(where)} times"
            listed = ", ".join(map(str, where[:-1])) + f" and {where[-1]}"
            found.append(Violation(path, 1, name, None,
                                   f"appears {times} in the header (columns {listed}); keep one, or rename the other"
                                   f"{'s' if len(where) > 2 else ''}"))
    return found


def _coerce(text: pd.DataFrame, dictionary: DataDictionary) -> pd.DataFrame:
    typed = pd.DataFrame(index=text.index)
    for name in text.columns:
        spec = dictionary.columns.get(name)
        column = text[name]
        if spec is None or spec.type == "string":
            typed[name] = column.astype(object)
        elif spec.type in ("numeric", "binary"):
            typed[name] = _as_number(column).astype(float)
        elif spec.type == "categorical":
            typed[name] = pd.Categorical(column, categories=list(spec.levels))
        else:
            typed[name] = _date_parser(spec.format or "%Y-%m-%d")(column)
    return typed


def validate_table(raw: pd.DataFrame, dictionary: DataDictionary, *, path: str) -> pd.DataFrame:
    """Check a table against its dictionary and return it with declared types.

    Parameters
    ----------
    raw : DataFrame
        The table as read from disk (any dtypes), rows in file order.
    dictionary : DataDictionary
        Its declared schema.
    path : str
        The file it came from, for messages.

    Returns
    -------
    DataFrame
        Numeric and binary columns as float, categorical columns as ``pandas.Categorical`` with
        the dictionary's levels in order, dates as ``datetime64``, strings as objects. The index
        is the row number as a spreadsheet shows it (header = row 1), named ``row``.

    Raises
    ------
    DataValidationError
        With *every* violation: file, row, column, value and rule.
    """
    raw = raw.reset_index(drop=True)
    header = _header_problems(raw.columns, path)
    if header:
        raise DataValidationError(header)
    raw.columns = [str(c) for c in raw.columns]
    text = to_text(raw, dictionary)
    order = list(dictionary.columns) + [c for c in text.columns if c not in dictionary.columns]
    found = _duplicate_keys(text, dictionary, path)
    try:
        build_schema(dictionary).validate(text, lazy=True)
    except SchemaErrors as exc:
        found = _violations(exc.failure_cases, text, path) + found
    if found:   # in file order, then in the dictionary's column order
        rank = {name: i for i, name in enumerate(order)}
        found.sort(key=lambda v: (v.row is not None, v.row or 0, rank.get((v.column or "").split(" + ")[0], len(rank))))
        raise DataValidationError(found) from None
    typed = _coerce(text, dictionary)
    typed.index = pd.RangeIndex(_HEADER_ROWS + 1, _HEADER_ROWS + 1 + len(typed), name=ROW_INDEX)
    logger.debug("validated %s: %d rows, %d columns", path, len(typed), typed.shape[1])
    return typed
