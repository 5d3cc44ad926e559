"""Read a table from disk by its extension, and validate it against its dictionary."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from prognosis._paths import explain_os_error
from prognosis.dictionary import DataDictionary, load_dictionary, validate_table
from prognosis.errors import DataValidationError, Violation

logger = logging.getLogger(__name__)


class _Unreadable(Exception):
    """A reader's own, already worded, reason why a file is not a table (no exception type shown)."""


_SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}


def _first_line(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    text = head.decode("utf-8-sig", errors="replace")
    if not text.strip():
        raise _Unreadable("is empty: no header row (the first line must name the columns)")
    return text.splitlines()[0]


def _check_separator(path: Path, sep: str) -> None:
    """A header with none of the expected separator but another one: say so, not "column absent"."""
    header = _first_line(path)
    if not header.strip():
        raise _Unreadable("starts with a blank line; the first line must be the header naming the columns")
    if sep in header:
        return
    expected = _SEPARATORS[sep]
    for other, name in _SEPARATORS.items():
        if other != sep and other in header:
            renamed = {",": " or give it the extension .csv", "\t": " or give it the extension .tsv"}.get(other, "")
            raise _Unreadable(f"looks {name}-separated (its header holds a {name} and no {expected}); save it "
                              f"{expected}-separated (in Excel: CSV UTF-8){renamed}")


def _first_undecodable_line(path: Path) -> int:
    data = path.read_bytes()
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # The decoder's offset is past the 3-byte mark when there is one; lines count from 1.
        start = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        return data[:start].count(b"\n") + 1
    return 1


def _with_header(frame: pd.DataFrame) -> pd.DataFrame:
    """Take the first row as the header, exactly as written.

    pandas' own header parsing renames a repeated name (``age``, ``age.1``) and a blank one
    (``Unnamed: 3``); validation must see the names the user wrote to say what is wrong.
    """
    names = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip() for v in frame.iloc[0]] \
        if len(frame) else []
    body = frame.iloc[1:].reset_index(drop=True)
    body.columns = pd.Index(names, dtype=object)
    return body


def _read_csv(path: Path, sep: str = ",") -> pd.DataFrame:
    # Everything as text: the dictionary, not pandas' guessing, decides types and missing tokens.
    # Blank lines are kept as empty rows, so that row numbers stay those a spreadsheet shows
    # (pandas would skip them and shift every later row); trailing ones are dropped, as Excel does.
    _check_separator(path, sep)
    try:
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_filter=False, header=None,
                            encoding="utf-8-sig", skip_blank_lines=False)
    except UnicodeDecodeError:
        raise _Unreadable(f"is not UTF-8 text (line {_first_undecodable_line(path)} holds a byte UTF-8 cannot "
                          "decode; Excel's plain \"CSV\" writes Windows-1252); save it as UTF-8 (in Excel: CSV UTF-8)"
                          ) from None
    frame = _with_header(frame)
    filled = (frame != "").any(axis=1).to_numpy().nonzero()[0]
    return frame.iloc[: filled[-1] + 1] if filled.size else frame.iloc[:0]


def _read_excel(path: Path) -> pd.DataFrame:
    """The workbook's one sheet holding data; several such sheets are an error, not a silent choice."""
    sheets = pd.read_excel(path, sheet_name=None, dtype=object, header=None, engine="openpyxl")
    filled = {name: sheet for name, sheet in sheets.items() if sheet.notna().to_numpy().any()}
    if len(filled) > 1:
        listed = ", ".join(repr(str(n)) for n in filled)
        raise _Unreadable(f"has {len(filled)} sheets holding data ({listed}); prognosis reads one table per "
                          "file: keep that table's sheet alone in the workbook, or save it as CSV")
    if not filled:
        raise _Unreadable("is empty: no sheet holds a header row (the first row must name the columns)")
    return _with_header(next(iter(filled.values())))


_READERS: dict[str, tuple[str, Callable[[Path], pd.DataFrame]]] = {
    ".csv": ("CSV", _read_csv),
    ".tsv": ("tab-separated text", lambda p: _read_csv(p, sep="\t")),
    ".parquet": ("Parquet", pd.read_parquet),
    ".pq": ("Parquet", pd.read_parquet),
    ".xlsx": ("Excel", _read_excel),
    # Stata value labels are applied, so declare the labels (not the codes) as levels.
    ".dta": ("Stata", pd.read_stata),
    ".sas7bdat": ("SAS", lambda p: pd.read_sas(p, format="sas7bdat", encoding="infer")),
}

SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(_READERS)


def read_raw(path: str | Path) -> pd.DataFrame:
    """Read a table as it is on disk, choosing the reader by extension.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.tsv``, ``.parquet``/``.pq``, ``.xlsx``, ``.dta`` or ``.sas7bdat`` file.

    Raises
    ------
    DataValidationError
        The file does not exist, has an unsupported extension, or cannot be parsed.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _READERS:
        rule = f"has an unsupported extension {suffix!r}; supported: {', '.join(SUPPORTED_EXTENSIONS)}"
        raise DataValidationError([Violation(str(path), None, None, None, rule)])
    if not path.is_file():
        try:
            path.stat()
        except OSError as exc:   # a symlink loop or a refused folder is not "not found"
            if not isinstance(exc, FileNotFoundError):
                raise DataValidationError([Violation(str(path), None, None, None, explain_os_error(exc))]) from None
        raise DataValidationError([Violation(str(path), None, None, None, f"file not found (looked for {path})")])
    kind, reader = _READERS[suffix]
    try:
        return reader(path)
    except _Unreadable as exc:
        raise DataValidationError([Violation(str(path), None, None, None, str(exc))]) from None
    except Exception as exc:  # each reader raises its own types; all mean "unreadable"
        rule = f"cannot be read as {kind} ({type(exc).__name__}: {exc})"
        raise DataValidationError([Violation(str(path), None, None, None, rule)]) from None


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: What provenance and messages name as the "path" of a table passed as a DataFrame.
IN_MEMORY = "in-memory DataFrame"


def sha256_of_frame(frame: pd.DataFrame) -> str:
    """SHA-256 of a DataFrame's content: of the bytes ``frame.to_csv(index=False)`` writes.

    So a DataFrame saved with ``to_csv(path, index=False)`` and read back as a file gets the same
    checksum in provenance; the index is not part of the data (it is never validated either).
    """
    return hashlib.sha256(frame.to_csv(index=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Table:
    """A validated table and where it came from.

    For a DataFrame, ``path`` is ``"<name> (in-memory DataFrame)"``, which messages name as they
    would a file, and ``in_memory`` is True.
    """

    name: str
    path: str
    data: pd.DataFrame
    dictionary: DataDictionary
    sha256: str
    in_memory: bool = False

    @property
    def n_rows(self) -> int:
        return len(self.data)


def read_table(name: str, path: str | Path | pd.DataFrame, dictionary: str | Path | DataDictionary) -> Table:
    """Read one table and validate it against its dictionary.

    Parameters
    ----------
    name : str
        The table's name in the spec.
    path : str, Path or DataFrame
        A file (read by extension, see :func:`read_raw`), or a DataFrame already in memory.
        A DataFrame is judged exactly as a file would be: each cell is brought to the same text
        view (``1.0`` is ``"1"``, NaN/None/``pd.NA``/NaT are missing, datetimes are written in
        the column's date format), and a violation's row is the one the row would have in a
        spreadsheet, i.e. its *position* + 2 (the header is row 1), whatever the index holds.
        The index is ignored: call ``reset_index()`` first if a column sits in it.
    dictionary : str, Path or DataDictionary

    Raises
    ------
    DataValidationError
        Every violation in the table, each with file (``"<name> (in-memory DataFrame)"`` for a
        DataFrame), row, column, value and rule.
    DictionaryError
        The dictionary itself is malformed.
    """
    if not isinstance(dictionary, DataDictionary):
        dictionary = load_dictionary(dictionary)
    if isinstance(path, pd.DataFrame):
        where = f"{name} ({IN_MEMORY})"
        data = validate_table(path, dictionary, path=where)
        logger.info("read %s: %d rows", where, len(data))
        return Table(name=name, path=where, data=data, dictionary=dictionary, sha256=sha256_of_frame(path),
                     in_memory=True)
    raw = read_raw(path)
    data = validate_table(raw, dictionary, path=str(path))
    logger.info("read %s (%s): %d rows", name, path, len(data))
    return Table(name=name, path=str(path), data=data, dictionary=dictionary, sha256=sha256_of(path))
