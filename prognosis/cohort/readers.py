"""Read a table from disk by its extension, and validate it against its dictionary."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from prognosis._paths import explain_os_error
from prognosis.dictionary import DataDictionary, load_dictionary, validate_table
from prognosis.errors import DataValidationError, Violation

logger = logging.getLogger(__name__)


def _read_csv(path: Path, sep: str = ",") -> pd.DataFrame:
    # Everything as text: the dictionary, not pandas' guessing, decides types and missing tokens.
    # Blank lines are kept as empty rows, so that row numbers stay those a spreadsheet shows
    # (pandas would skip them and shift every later row); trailing ones are dropped, as Excel does.
    frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_filter=False,
                        encoding="utf-8-sig", skip_blank_lines=False)
    filled = (frame != "").any(axis=1).to_numpy().nonzero()[0]
    return frame.iloc[: filled[-1] + 1] if filled.size else frame.iloc[:0]


_READERS: dict[str, tuple[str, Callable[[Path], pd.DataFrame]]] = {
    ".csv": ("CSV", _read_csv),
    ".tsv": ("tab-separated text", lambda p: _read_csv(p, sep="\t")),
    ".parquet": ("Parquet", pd.read_parquet),
    ".pq": ("Parquet", pd.read_parquet),
    ".xlsx": ("Excel", lambda p: pd.read_excel(p, dtype=object, engine="openpyxl")),
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
    except Exception as exc:  # each reader raises its own types; all mean "unreadable"
        rule = f"cannot be read as {kind} ({type(exc).__name__}: {exc})"
        raise DataValidationError([Violation(str(path), None, None, None, rule)]) from None


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Table:
    """A validated table and where it came from."""

    name: str
    path: str
    data: pd.DataFrame
    dictionary: DataDictionary
    sha256: str

    @property
    def n_rows(self) -> int:
        return len(self.data)


def read_table(name: str, path: str | Path, dictionary: str | Path | DataDictionary) -> Table:
    """Read one table and validate it against its dictionary.

    Raises
    ------
    DataValidationError
        Every violation in the table, each with file, row, column, value and rule.
    DictionaryError
        The dictionary itself is malformed.
    """
    if not isinstance(dictionary, DataDictionary):
        dictionary = load_dictionary(dictionary)
    raw = read_raw(path)
    data = validate_table(raw, dictionary, path=str(path))
    logger.info("read %s (%s): %d rows", name, path, len(data))
    return Table(name=name, path=str(path), data=data, dictionary=dictionary, sha256=sha256_of(path))
