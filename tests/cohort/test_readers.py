"""Tests of prognosis/cohort/readers.py: one reader per extension, clean errors for bad files.

Every typed file below is written with pandas into ``tmp_path``. No ``.sas7bdat`` sample ships
with the installed pandas (``find .venv -name '*.sas7bdat'`` finds none) and pandas cannot
write one, so only the unreadable-SAS error is tested.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from prognosis.cohort import Table, read_raw, read_table
from prognosis.cohort.readers import SUPPORTED_EXTENSIONS, sha256_of
from prognosis.dictionary import load_dictionary
from prognosis.errors import DataValidationError, DictionaryError, Violation

DICTIONARY = {
    "table": "pathology",
    "key": "patient_id",
    "missing": ["", "NA"],
    "columns": {
        "patient_id": {"type": "string", "required": True},
        "age": {"type": "numeric", "min": 18, "max": 110},
        "grade": {"type": "categorical", "levels": [1, 2, 3]},
        "er": {"type": "categorical", "levels": ["negative", "positive"], "codes": {0: "negative", 1: "positive"}},
        "death": {"type": "binary"},
        "diagnosed": {"type": "date", "format": "%d/%m/%Y"},
    },
}

# The same four patients as a CSV holds them (text, raw ER codes, dates in the declared format) ...
CSV_TEXT = (
    "patient_id,age,grade,er,death,diagnosed\n"
    "P1,40,1,0,0,02/01/2010\n"
    "P2,55.5,2,positive,1,31/12/2011\n"
    "P3,61,,NA,0,\n"
    "P4,70,3,1,1,29/02/2012\n"
)
# ... and as typed sources hold them: floats in a categorical column, real dates, labelled codes.
TYPED = pd.DataFrame({
    "patient_id": ["P1", "P2", "P3", "P4"],
    "age": [40.0, 55.5, 61.0, 70.0],
    "grade": [1.0, 2.0, np.nan, 3.0],
    "er": pd.Categorical(["negative", "positive", None, "positive"], categories=["negative", "positive"]),
    "death": [0.0, 1.0, 0.0, 1.0],
    "diagnosed": pd.to_datetime(["2010-01-02", "2011-12-31", None, "2012-02-29"]),
})


def _write_stata(frame: pd.DataFrame, path: Path) -> None:
    # Categorical columns are written as value labels; read_stata applies them back.
    frame.to_stata(path, write_index=False, convert_dates={"diagnosed": "td"})


WRITERS = {
    ".parquet": lambda frame, path: frame.to_parquet(path, index=False),
    ".pq": lambda frame, path: frame.to_parquet(path, index=False),
    ".xlsx": lambda frame, path: frame.to_excel(path, index=False),
    ".dta": _write_stata,
}


@pytest.fixture
def dictionary_path(tmp_path: Path) -> Path:
    path = tmp_path / "pathology.yaml"
    path.write_text(yaml.safe_dump(DICTIONARY), encoding="utf-8")
    return path


@pytest.fixture
def csv_table(tmp_path: Path, dictionary_path: Path) -> Table:
    path = tmp_path / "pathology.csv"
    path.write_text(CSV_TEXT, encoding="utf-8")
    return read_table("pathology", path, dictionary_path)


def only_violation(excinfo: pytest.ExceptionInfo) -> Violation:
    (violation,) = excinfo.value.violations
    return violation


# --- every extension reads and validates alike -----------------------------------------------


def test_supported_extensions():
    assert SUPPORTED_EXTENSIONS == (".csv", ".tsv", ".parquet", ".pq", ".xlsx", ".dta", ".sas7bdat")


def test_csv_is_read_as_text(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,x,y\n007,NA,1.50\n", encoding="utf-8")
    raw = read_raw(path)
    # no guessing: leading zeros, "NA" and trailing zeros are kept for the dictionary to judge
    assert raw.to_dict("records") == [{"id": "007", "x": "NA", "y": "1.50"}]


def test_csv_typed_result(csv_table):
    data = csv_table.data
    assert data.index.tolist() == [2, 3, 4, 5]
    assert data["age"].tolist() == [40.0, 55.5, 61.0, 70.0]
    assert data["grade"].astype(object).where(data["grade"].notna(), None).tolist() == ["1", "2", None, "3"]
    assert data["er"].astype(object).where(data["er"].notna(), None).tolist() == ["negative", "positive", None, "positive"]
    assert data["diagnosed"].tolist()[:2] == [pd.Timestamp("2010-01-02"), pd.Timestamp("2011-12-31")]


def test_tsv_validates_like_csv(tmp_path, dictionary_path, csv_table):
    path = tmp_path / "pathology.tsv"
    path.write_text(CSV_TEXT.replace(",", "\t"), encoding="utf-8")
    pd.testing.assert_frame_equal(read_table("pathology", path, dictionary_path).data, csv_table.data)


@pytest.mark.parametrize("extension", sorted(WRITERS))
def test_typed_source_validates_like_csv(tmp_path, dictionary_path, csv_table, extension):
    # Parquet/Stata hold grade as the float 1.0 and dates as dates; Excel holds real dates;
    # all must give exactly what the CSV text gives.
    path = tmp_path / f"pathology{extension}"
    WRITERS[extension](TYPED, path)
    table = read_table("pathology", path, dictionary_path)
    pd.testing.assert_frame_equal(table.data, csv_table.data)


def test_parquet_float_outside_the_levels_is_located(tmp_path, dictionary_path):
    path = tmp_path / "pathology.parquet"
    TYPED.assign(grade=[1.0, 2.0, 4.0, 3.0]).to_parquet(path, index=False)
    with pytest.raises(DataValidationError) as info:
        read_table("pathology", path, dictionary_path)
    assert only_violation(info) == Violation(str(path), 4, "grade", "4", "is not one of {1, 2, 3}")


def test_excel_row_numbers_are_the_sheet_rows(tmp_path, dictionary_path):
    path = tmp_path / "pathology.xlsx"
    bad = TYPED.astype({"age": object})
    bad.loc[2, "age"] = "sixty"              # third patient: sheet row 4
    bad.loc[3, "diagnosed"] = pd.NaT
    bad = bad.astype({"diagnosed": object})
    bad.loc[3, "diagnosed"] = "2012-02-29"   # text, not in the declared %d/%m/%Y: sheet row 5
    bad.to_excel(path, index=False)
    with pytest.raises(DataValidationError) as info:
        read_table("pathology", path, dictionary_path)
    assert [(v.path, v.row, v.column, v.value, v.rule) for v in info.value.violations] == [
        (str(path), 4, "age", "sixty", "is not a number"),
        (str(path), 5, "diagnosed", "2012-02-29", "is not a date in the format %d/%m/%Y"),
    ]


def test_stata_value_labels_are_applied(tmp_path):
    path = tmp_path / "t.dta"
    pd.DataFrame({"er": pd.Categorical(["negative", "positive"])}).to_stata(path, write_index=False)
    assert read_raw(path)["er"].astype(str).tolist() == ["negative", "positive"]


def test_csv_with_byte_order_mark(tmp_path, dictionary_path, csv_table):
    path = tmp_path / "pathology.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CSV_TEXT.encode("utf-8"))  # as Excel saves "CSV UTF-8"
    pd.testing.assert_frame_equal(read_table("pathology", path, dictionary_path).data, csv_table.data)


def test_blank_line_in_a_csv_keeps_the_row_numbers(tmp_path, dictionary_path):
    # A spreadsheet shows the blank line as an empty row 3, so P2 is on row 4.
    path = tmp_path / "pathology.csv"
    path.write_text("patient_id,age,grade,er,death,diagnosed\n"
                    "P1,40,1,0,0,02/01/2010\n"
                    "\n"
                    "P2,fifty,2,1,1,03/01/2010\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as info:
        read_table("pathology", path, dictionary_path)
    assert [(v.row, v.column, v.rule) for v in info.value.violations] == [
        (3, "patient_id", "is missing, but the column is required"),
        (4, "age", "is not a number"),
    ]


def test_trailing_blank_lines_are_not_rows(tmp_path, dictionary_path, csv_table):
    path = tmp_path / "pathology.csv"
    path.write_text(CSV_TEXT + "\n\n", encoding="utf-8")
    assert read_table("pathology", path, dictionary_path).n_rows == 4


# --- read_table ------------------------------------------------------------------------------


def test_read_table_records_name_path_dictionary_and_checksum(tmp_path, dictionary_path, csv_table):
    path = tmp_path / "pathology.csv"
    assert csv_table.name == "pathology"
    assert csv_table.path == str(path)
    assert csv_table.n_rows == 4
    assert csv_table.dictionary.table == "pathology"
    assert csv_table.sha256 == hashlib.sha256(CSV_TEXT.encode("utf-8")).hexdigest() == sha256_of(path)


def test_read_table_accepts_a_loaded_dictionary(tmp_path, dictionary_path, csv_table):
    table = read_table("p", tmp_path / "pathology.csv", load_dictionary(dictionary_path))
    pd.testing.assert_frame_equal(table.data, csv_table.data)


def test_read_table_reports_a_malformed_dictionary(tmp_path):
    path = tmp_path / "pathology.csv"
    path.write_text(CSV_TEXT, encoding="utf-8")
    (tmp_path / "bad.yaml").write_text("table: p\ncolumns: {age: {type: number}}\n", encoding="utf-8")
    with pytest.raises(DictionaryError, match=r"^bad\.yaml: column 'age' has type 'number'.*did you mean 'numeric'"):
        read_table("pathology", path, tmp_path / "bad.yaml")


def test_read_table_reports_a_missing_dictionary(tmp_path):
    path = tmp_path / "pathology.csv"
    path.write_text(CSV_TEXT, encoding="utf-8")
    with pytest.raises(DictionaryError, match=r"data dictionary .*nowhere\.yaml does not exist"):
        read_table("pathology", path, tmp_path / "nowhere.yaml")


# --- files that cannot be read ---------------------------------------------------------------


def test_missing_file(tmp_path, dictionary_path):
    path = tmp_path / "data" / "pathology.csv"
    with pytest.raises(DataValidationError) as info:
        read_table("pathology", path, dictionary_path)
    violation = only_violation(info)
    assert violation == Violation(str(path), None, None, None, f"file not found (looked for {path})")
    assert str(info.value) == f"1 problem found in pathology.csv:\n  pathology.csv: file not found (looked for {path})"


def test_folder_in_place_of_a_file(tmp_path):
    path = tmp_path / "pathology.csv"
    path.mkdir()
    with pytest.raises(DataValidationError) as info:
        read_raw(path)
    assert only_violation(info).rule == f"file not found (looked for {path})"


@pytest.mark.parametrize("name", ["pathology.json", "pathology.xls", "pathology"])
def test_unsupported_extension(tmp_path, name):
    path = tmp_path / name
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(DataValidationError) as info:
        read_raw(path)
    violation = only_violation(info)
    assert (violation.path, violation.row, violation.column) == (str(path), None, None)
    assert violation.rule.startswith(f"has an unsupported extension {Path(name).suffix!r}; supported: .csv, .tsv,")


@pytest.mark.parametrize(("name", "content", "kind"), [
    ("pathology.parquet", b"PAR1 this is not parquet \x00\xff\x13", "Parquet"),
    ("pathology.pq", b"", "Parquet"),
    ("pathology.xlsx", bytes(range(256)) * 8, "Excel"),
    ("pathology.xlsx", b"patient_id,age\nP1,40\n", "Excel"),  # a CSV renamed .xlsx
    ("pathology.dta", bytes(range(256)) * 8, "Stata"),
    ("pathology.sas7bdat", bytes(range(256)) * 8, "SAS"),
])
def test_unreadable_file_gives_a_clean_error(tmp_path, dictionary_path, name, content, kind):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataValidationError) as info:
        read_table("pathology", path, dictionary_path)
    violation = only_violation(info)
    assert (violation.path, violation.row, violation.column, violation.value) == (str(path), None, None, None)
    assert violation.rule.startswith(f"cannot be read as {kind} (")
    assert str(info.value).startswith(f"1 problem found in {name}:\n  {name}: cannot be read as {kind} (")


def test_a_file_that_reads_but_has_none_of_the_columns(tmp_path, dictionary_path):
    path = tmp_path / "pathology.csv"
    path.write_text("something else\nentirely\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as info:
        read_table("pathology", path, dictionary_path)
    found = [(v.row, v.column, v.rule) for v in info.value.violations]
    assert (None, "patient_id", "declared in the dictionary but absent from the file") in found
    assert (None, "something else",
            "is not declared in the dictionary (declare it, or set allow_extra: true)") in found
    assert len(found) == 7


def test_typed_dates_need_no_format_match(tmp_path):
    # A real date is a date whatever the declared text format (here the default %Y-%m-%d).
    path = tmp_path / "t.parquet"
    pd.DataFrame({"seen": [dt.date(2010, 1, 2), None]}).to_parquet(path)
    (tmp_path / "t.yaml").write_text("table: t\ncolumns: {seen: {type: date}}\n", encoding="utf-8")
    table = read_table("t", path, tmp_path / "t.yaml")
    assert table.data.loc[2, "seen"] == pd.Timestamp("2010-01-02") and pd.isna(table.data.loc[3, "seen"])
