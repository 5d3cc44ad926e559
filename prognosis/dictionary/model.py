"""The data dictionary: one YAML file per table, described in ``data_dictionary/README.md``."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from prognosis._numbers import is_finite
from prognosis._suggest import did_you_mean
from prognosis._yaml import read_yaml
from prognosis.errors import DictionaryError

logger = logging.getLogger(__name__)

ColumnType = Literal["string", "numeric", "binary", "categorical", "date"]
COLUMN_TYPES: tuple[str, ...] = ("string", "numeric", "binary", "categorical", "date")
_TABLE_FIELDS = ("table", "key", "missing", "allow_extra", "columns", "description")
_COLUMN_FIELDS = (
    "type", "required", "optional", "label", "unit", "min", "max", "levels", "codes", "format", "description",
)


@dataclass(frozen=True)
class ColumnSpec:
    """One declared column.

    Levels and code keys are kept as strings, since that is how they are compared with the
    data: a YAML ``levels: [1, 2, 3]`` matches the cells ``1``, ``2`` and ``3``.
    """

    name: str
    type: ColumnType
    required: bool = False
    optional: bool = False
    label: str | None = None
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    levels: tuple[str, ...] = ()
    codes: dict[str, str] = field(default_factory=dict)
    format: str | None = None

    @property
    def display_name(self) -> str:
        return self.label or self.name

    @property
    def is_categorical(self) -> bool:
        return self.type in ("categorical", "binary")

    @property
    def category_levels(self) -> tuple[str, ...]:
        """Levels in order (the first is the default reference); binary columns are ``0, 1``."""
        return ("0", "1") if self.type == "binary" else self.levels


@dataclass(frozen=True)
class DataDictionary:
    """A table's declared schema."""

    table: str
    columns: dict[str, ColumnSpec]
    key: str | tuple[str, ...] | None = None
    missing: tuple[str, ...] = ("",)
    allow_extra: bool = False
    path: str | None = None

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The key's columns: one (``key: patient_id``), several (``key: [patient_id, laterality]``) or none."""
        if self.key is None:
            return ()
        return (self.key,) if isinstance(self.key, str) else tuple(self.key)

    def column(self, name: str) -> ColumnSpec:
        try:
            return self.columns[name]
        except KeyError:
            hint = did_you_mean(name, self.columns)
            raise DictionaryError(
                f"{self.source}: column {name!r} is not declared{hint}"
            ) from None

    @property
    def source(self) -> str:
        return Path(self.path).name if self.path else f"dictionary of {self.table}"


def _as_text(value: object) -> str:
    # YAML reads `1` as int and `1.0` as float; cells are compared as text, so 1.0 -> "1".
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _flag(raw: dict, field: str, where: str) -> bool:
    value = raw.get(field, False)
    if not isinstance(value, bool):
        # A quoted "false" is a non-empty string, which Python would take as true.
        raise DictionaryError(f"{where}: `{field}` must be true or false (unquoted), not {value!r}")
    return value


def _parse_column(name: str, raw: object, where: str) -> ColumnSpec:
    if not isinstance(raw, dict):
        raise DictionaryError(f"{where}: column {name!r} must be a mapping such as {{type: numeric}}")
    for key in raw:
        if key not in _COLUMN_FIELDS:
            raise DictionaryError(
                f"{where}: column {name!r} has unknown field {key!r}{did_you_mean(key, _COLUMN_FIELDS)}"
            )
    kind = raw.get("type")
    if kind not in COLUMN_TYPES:
        raise DictionaryError(
            f"{where}: column {name!r} has type {kind!r}; expected one of {', '.join(COLUMN_TYPES)}"
            f"{did_you_mean(str(kind), COLUMN_TYPES)}"
        )
    raw_codes = raw.get("codes") or {}
    if not isinstance(raw.get("levels") or [], list) or not isinstance(raw_codes, dict):
        # A bare string would otherwise be split into one-letter levels.
        raise DictionaryError(
            f"{where}: column {name!r}: `levels` must be a list and `codes` a mapping, "
            f"e.g. levels: [negative, positive], codes: {{0: negative, 1: positive}}"
        )
    raw_levels = list(raw.get("levels") or ()) + list(raw_codes) + list(raw_codes.values())
    if any(isinstance(v, bool) for v in raw_levels):
        # YAML 1.1 reads bare no/yes/on/off as booleans; the level's spelling would be lost.
        raise DictionaryError(
            f"{where}: column {name!r} has a level read as a boolean; quote it, e.g. levels: [\"no\", \"yes\"]"
        )
    levels = tuple(_as_text(v) for v in raw.get("levels") or ())
    codes: dict[str, str] = {}
    for code, level in raw_codes.items():
        # 1 and "1" (or 1.0) are two YAML keys but one cell once read as text
        if _as_text(code) in codes:
            raise DictionaryError(f"{where}: column {name!r}: code {_as_text(code)!r} is declared twice")
        codes[_as_text(code)] = _as_text(level)
    for code, level in codes.items():
        if code != level and code in levels:
            # codes are applied to every cell, so the level `code` could never be seen as itself
            raise DictionaryError(f"{where}: column {name!r}: code {code!r} maps to {level!r}, but {code!r} is "
                                  f"itself a level; a cell {code!r} could not be told apart")
    if kind == "categorical":
        if len(levels) < 1:
            raise DictionaryError(f"{where}: categorical column {name!r} needs `levels`")
        if len(set(levels)) != len(levels):
            raise DictionaryError(f"{where}: column {name!r} lists a level twice")
        unknown = sorted(set(codes.values()) - set(levels))
        if unknown:
            raise DictionaryError(
                f"{where}: column {name!r} maps codes to {unknown}, which are not among its levels"
            )
    elif levels or codes:
        raise DictionaryError(f"{where}: `levels` and `codes` apply only to categorical columns ({name!r})")
    for bound in ("min", "max"):
        if raw.get(bound) is not None and kind != "numeric":
            raise DictionaryError(f"{where}: `{bound}` applies only to numeric columns ({name!r})")
        if raw.get(bound) is not None and (isinstance(raw[bound], bool) or not isinstance(raw[bound], (int, float))):
            raise DictionaryError(f"{where}: `{bound}` of column {name!r} must be a number, not {raw[bound]!r}")
        if raw.get(bound) is not None and not is_finite(raw[bound]):
            # YAML reads .inf and .nan as floats; a bound of nan would pass every cell
            raise DictionaryError(f"{where}: `{bound}` of column {name!r} must be a finite number, not {raw[bound]!r}")
    if raw.get("min") is not None and raw.get("max") is not None and raw["min"] > raw["max"]:
        raise DictionaryError(f"{where}: column {name!r}: `min` {raw['min']!r} is above `max` {raw['max']!r}; swap them")
    for text_field in ("label", "unit", "description"):
        if raw.get(text_field) is not None and (isinstance(raw[text_field], (bool, list, dict))):
            raise DictionaryError(f"{where}: column {name!r}: `{text_field}` must be text")
    if raw.get("format") is not None and kind != "date":
        raise DictionaryError(f"{where}: `format` applies only to date columns ({name!r})")
    if raw.get("format") is not None and not isinstance(raw["format"], str):
        raise DictionaryError(f"{where}: `format` of column {name!r} must be text such as \"%Y-%m-%d\"")
    return ColumnSpec(
        name=str(name),
        type=kind,
        required=_flag(raw, "required", f"{where}: column {name!r}"),
        optional=_flag(raw, "optional", f"{where}: column {name!r}"),
        label=None if raw.get("label") is None else str(raw["label"]),
        unit=None if raw.get("unit") is None else str(raw["unit"]),
        min=None if raw.get("min") is None else float(raw["min"]),
        max=None if raw.get("max") is None else float(raw["max"]),
        levels=levels,
        codes=codes,
        format=raw.get("format") or ("%Y-%m-%d" if kind == "date" else None),
    )


def _check_missing_tokens(missing: tuple[str, ...], columns: dict[str, ColumnSpec], where: str) -> None:
    """Refuse a missing token that is also a value some column declares: it would blank that value.

    Missing tokens are applied before codes and levels (dictionary/validate.py), so a token ``NA``
    with a level ``NA``, a code ``9`` or a binary column's ``0`` silently turns real data into gaps.
    """
    for column in columns.values():
        for token in missing:
            if token in column.levels:
                raise DictionaryError(f"{where}: missing token {token!r} is also a level of column {column.name!r}; "
                                      f"a cell {token!r} cannot be both")
            if token in column.codes:
                raise DictionaryError(f"{where}: missing token {token!r} is also a code of column {column.name!r}; "
                                      f"a cell {token!r} cannot be both")
            if column.type == "binary" and token in ("0", "1"):
                raise DictionaryError(f"{where}: missing token {token!r} is a value of the binary column "
                                      f"{column.name!r}; a cell {token!r} cannot be both")


def load_dictionary(path: str | Path) -> DataDictionary:
    """Read and check a data dictionary YAML file.

    Parameters
    ----------
    path : str or Path
        The YAML file (format in ``data_dictionary/README.md``).

    Returns
    -------
    DataDictionary

    Raises
    ------
    DictionaryError
        The file is missing, is not YAML, or declares something malformed; the message names
        the file and the field.
    """
    path = Path(path)
    where = path.name
    raw = read_yaml(path, error=DictionaryError, what="data dictionary")
    if not isinstance(raw, dict):
        raise DictionaryError(f"{where}: expected a mapping with `table` and `columns`")
    for key in raw:
        if key not in _TABLE_FIELDS:
            raise DictionaryError(f"{where}: unknown field {key!r}{did_you_mean(key, _TABLE_FIELDS)}")
    if not raw.get("table"):
        raise DictionaryError(f"{where}: `table` (the table's name) is required")
    if isinstance(raw["table"], (bool, list, dict)):
        raise DictionaryError(f"{where}: `table` must be a name, not {raw['table']!r}")
    columns_raw = raw.get("columns")
    if not isinstance(columns_raw, dict) or not columns_raw:
        raise DictionaryError(f"{where}: `columns` must map each column name to its declaration")
    for column_name in columns_raw:
        if column_name is None or isinstance(column_name, bool):
            # bare yes/no/null as a column name: the header 'yes' would never match 'True'
            raise DictionaryError(f"{where}: column name {column_name!r} was read as a boolean or null; quote it")
        if not isinstance(column_name, (str, int, float)):
            raise DictionaryError(f"{where}: column name {column_name!r} must be text")
    if len({str(n) for n in columns_raw}) != len(columns_raw):
        raise DictionaryError(f"{where}: a column is declared twice (e.g. 1 and \"1\"); declare it once")
    columns = {str(n): _parse_column(str(n), spec, where) for n, spec in columns_raw.items()}
    key = raw.get("key")
    if isinstance(key, list):    # a composite key, e.g. one row per breast: [patient_id, laterality]
        if not key or not all(isinstance(k, str) for k in key) or len(set(key)) != len(key):
            raise DictionaryError(f"{where}: key must be a column name or a list of distinct column names")
        for part in key:
            if part not in columns:
                raise DictionaryError(f"{where}: key column {part!r} is not a declared column{did_you_mean(part, columns)}")
        key = key[0] if len(key) == 1 else tuple(key)
    elif key is not None and (not isinstance(key, str) or key not in columns):
        raise DictionaryError(f"{where}: key {key!r} is not a declared column{did_you_mean(str(key), columns)}")
    for part in (key if isinstance(key, tuple) else (key,) if key else ()):
        if columns[part].optional:
            raise DictionaryError(f"{where}: key column {part!r} cannot be optional: every row is identified by it")
    missing = raw.get("missing", [""])
    if not isinstance(missing, list):
        raise DictionaryError(f"{where}: `missing` must be a list of tokens such as [\"\", \"NA\"]")
    if any(isinstance(m, bool) for m in missing):
        # A bare no/off would become the token "0" and silently blank every 0 (binary columns!).
        raise DictionaryError(f"{where}: `missing` has a token read as a boolean; quote it, e.g. missing: [\"\", \"no\"]")
    for token in missing:
        if token is None or not isinstance(token, (str, int, float)) or (isinstance(token, float) and math.isnan(token)):
            raise DictionaryError(f"{where}: `missing` tokens must be text or numbers, not {token!r}")
    _check_missing_tokens(tuple(_as_text(m) for m in missing), columns, where)
    return DataDictionary(
        table=str(raw["table"]),
        columns=columns,
        key=key,
        missing=tuple(_as_text(m) for m in missing),
        allow_extra=_flag(raw, "allow_extra", where),
        path=str(path),
    )
