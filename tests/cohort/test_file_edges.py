"""Tables as users' tools write them: each oddity is read correctly or refused by name (issue 9).

Headers (a name given twice or not at all), a UTF-8 byte-order mark, Windows line endings, the
wrong separator, an empty file, text that is not UTF-8, a workbook of several sheets, non-finite
numbers (``inf``, ``nan`` as text in a CSV, a real float inf in Parquet), a header-only table and
a cohort left without events. Files are written into ``tmp_path`` byte by byte.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from prognosis.cli import app
from prognosis.cohort import read_raw, read_table
from prognosis.dictionary.validate import NOT_FINITE
from prognosis.errors import DataValidationError, ModelError, Violation
from prognosis.analysis.pipeline import run
from prognosis.spec import load_spec

DICTIONARY = {
    "table": "clinical",
    "key": "patient_id",
    "missing": ["", "NA"],
    "columns": {"patient_id": {"type": "string", "required": True},
                "age": {"type": "numeric", "max": 110},
                "followup_days": {"type": "numeric", "min": 1},
                "death": {"type": "binary"}},
}
HEADER = "patient_id,age,followup_days,death"
ROWS = ["P1,40,100,0", "P2,55,200,1", "P3,61,300,0"]


@pytest.fixture
def dictionary_path(tmp_path: Path) -> Path:
    path = tmp_path / "clinical.yaml"
    path.write_text(yaml.safe_dump(DICTIONARY), encoding="utf-8")
    return path


def write(tmp_path: Path, content: str | bytes, name: str = "clinical.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def violations_of(path: Path, dictionary_path: Path) -> list[Violation]:
    with pytest.raises(DataValidationError) as info:
        read_table("clinical", path, dictionary_path)
    return info.value.violations


def clean(tmp_path: Path, dictionary_path: Path) -> pd.DataFrame:
    return read_table("clinical", write(tmp_path, "\n".join([HEADER, *ROWS]) + "\n", "clean.csv"), dictionary_path).data


# --- the header ------------------------------------------------------------------------------


def test_a_name_twice_in_the_header_is_named_with_both_positions(tmp_path, dictionary_path):
    # pandas would read the second one as `age.1` and validation would call that undeclared.
    path = write(tmp_path, "patient_id,age,followup_days,death,age\nP1,40,100,0,41\n")
    with pytest.raises(DataValidationError) as info:
        read_table("clinical", path, dictionary_path)
    assert info.value.violations == [Violation(str(path), 1, "age", None,
                                               "appears twice in the header (columns 2 and 5); keep one, or rename the other")]
    assert "clinical.csv, row 1, column age: appears twice in the header (columns 2 and 5)" in str(info.value)
    assert "age.1" not in str(info.value)


def test_a_name_three_times_in_an_excel_header(tmp_path, dictionary_path):
    path = tmp_path / "clinical.xlsx"
    frame = pd.DataFrame([["P1", 40, 100, 0, 1, 2]])
    frame.columns = ["patient_id", "age", "followup_days", "death", "x", "y"]
    frame.to_excel(path, index=False)
    # rewrite the header cells as a user would, with `age` in columns 2, 5 and 6
    from openpyxl import load_workbook
    book = load_workbook(path)
    book.active["E1"], book.active["F1"] = "age", "age"
    book.save(path)
    assert [(v.row, v.column, v.rule) for v in violations_of(path, dictionary_path)] == [
        (1, "age", "appears 3 times in the header (columns 2, 5 and 6); keep one, or rename the others")]


def test_a_blank_column_name_is_located(tmp_path, dictionary_path):
    path = write(tmp_path, "patient_id,age,,followup_days,death\nP1,40,x,100,0\n")
    assert [(v.row, v.column, v.rule) for v in violations_of(path, dictionary_path)] == [
        (1, None, "column 3 of the header has no name; name it as in the dictionary, or delete it")]


def test_a_column_only_in_the_dictionary_is_named(tmp_path, dictionary_path):
    path = write(tmp_path, "patient_id,age,death\nP1,40,0\n")
    assert [(v.row, v.column, v.rule) for v in violations_of(path, dictionary_path)] == [
        (None, "followup_days", "declared in the dictionary but absent from the file")]


# --- encodings, line endings, separators, empty files ----------------------------------------


def test_byte_order_mark_and_windows_line_endings_read_as_plain_csv(tmp_path, dictionary_path):
    expected = clean(tmp_path, dictionary_path)
    text = "\r\n".join([HEADER, *ROWS]) + "\r\n"
    path = write(tmp_path, b"\xef\xbb\xbf" + text.encode("utf-8"))
    data = read_table("clinical", path, dictionary_path).data
    pd.testing.assert_frame_equal(data, expected)
    assert list(data.columns)[0] == "patient_id"   # not "\ufeffpatient_id"


def test_a_semicolon_separated_csv_is_named_with_the_fix(tmp_path, dictionary_path):
    # as Excel writes "CSV" in locales with a decimal comma: the comma inside 55,5 must not matter
    path = write(tmp_path, "patient_id;age;followup_days;death\nP1;55,5;100;0\n")
    (violation,) = violations_of(path, dictionary_path)
    assert (violation.row, violation.column) == (None, None)
    assert violation.rule == ("looks semicolon-separated (its header holds a semicolon and no comma); "
                              "save it comma-separated (in Excel: CSV UTF-8)")


def test_a_tab_separated_file_named_csv_suggests_tsv(tmp_path, dictionary_path):
    path = write(tmp_path, HEADER.replace(",", "\t") + "\n" + ROWS[0].replace(",", "\t") + "\n")
    (violation,) = violations_of(path, dictionary_path)
    assert violation.rule.startswith("looks tab-separated") and violation.rule.endswith("or give it the extension .tsv")


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xef\xbb\xbf"])
def test_an_empty_file_is_named_as_empty(tmp_path, dictionary_path, content):
    path = write(tmp_path, content)
    (violation,) = violations_of(path, dictionary_path)
    assert violation.rule == "is empty: no header row (the first line must name the columns)"
    assert violation.path == str(path)


def test_text_that_is_not_utf8_is_named(tmp_path, dictionary_path):
    path = write(tmp_path, "patient_id,age,followup_days,death\nP1,40,100,0\nJörg,41,100,0\n".encode("latin-1"))
    (violation,) = violations_of(path, dictionary_path)
    assert violation.rule == ('is not UTF-8 text (line 3 holds a byte UTF-8 cannot decode; Excel\'s plain "CSV" writes '
                              'Windows-1252); save it as UTF-8 (in Excel: CSV UTF-8)')


def test_a_workbook_with_two_filled_sheets_is_refused(tmp_path, dictionary_path):
    path = tmp_path / "clinical.xlsx"
    table = pd.DataFrame({"patient_id": ["P1"], "age": [40], "followup_days": [100], "death": [0]})
    with pd.ExcelWriter(path) as writer:
        table.to_excel(writer, sheet_name="patients", index=False)
        pd.DataFrame({"note": ["exported 2024"]}).to_excel(writer, sheet_name="notes", index=False)
        pd.DataFrame().to_excel(writer, sheet_name="empty", index=False)
    (violation,) = violations_of(path, dictionary_path)
    assert violation.rule == ("has 2 sheets holding data ('patients', 'notes'); prognosis reads one table per file: "
                              "keep that table's sheet alone in the workbook, or save it as CSV")


def test_a_workbook_with_one_filled_sheet_and_empty_ones_reads_that_sheet(tmp_path, dictionary_path):
    path = tmp_path / "clinical.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame().to_excel(writer, sheet_name="Sheet1", index=False)
        pd.DataFrame({"patient_id": ["P1", "P2"], "age": [40, 55.5], "followup_days": [100, 200],
                      "death": [0, 1]}).to_excel(writer, sheet_name="data", index=False)
    data = read_table("clinical", path, dictionary_path).data
    assert data["age"].tolist() == [40.0, 55.5] and data.index.tolist() == [2, 3]


def test_header_names_are_kept_exactly_apart_from_surrounding_spaces(tmp_path):
    raw = read_raw(write(tmp_path, "a b, a.b ,a.b.1\n1,2,3\n"))
    assert list(raw.columns) == ["a b", "a.b", "a.b.1"]


# --- non-finite numbers ------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["inf", "Infinity", "-inf", "+INF", "nan", "NaN", "-nan"])
def test_a_non_finite_number_in_a_csv_is_refused_with_its_place(tmp_path, dictionary_path, token):
    path = write(tmp_path, "\n".join([HEADER, *ROWS[:2], f"P3,61,{token},0"]) + "\n")
    assert [(v.row, v.column, v.value, v.rule) for v in violations_of(path, dictionary_path)] == [
        (4, "followup_days", token, NOT_FINITE)]


def test_inf_is_refused_once_even_beyond_a_bound(tmp_path, dictionary_path):
    path = write(tmp_path, "\n".join([HEADER, "P1,inf,100,0", "P2,-inf,200,1"]) + "\n")
    assert [(v.row, v.column, v.rule) for v in violations_of(path, dictionary_path)] == [
        (2, "age", NOT_FINITE), (3, "age", NOT_FINITE)]


def test_a_declared_missing_token_nan_is_missing_not_refused(tmp_path):
    dictionary = {**DICTIONARY, "missing": ["", "NA", "nan"]}
    dictionary_path = tmp_path / "lenient.yaml"
    dictionary_path.write_text(yaml.safe_dump(dictionary), encoding="utf-8")
    path = write(tmp_path, "\n".join([HEADER, "P1,nan,100,0"]) + "\n")
    assert np.isnan(read_table("clinical", path, dictionary_path).data["age"].iloc[0])


def test_a_float_inf_in_parquet_is_refused_and_nan_is_missing(tmp_path, dictionary_path):
    path = tmp_path / "clinical.parquet"
    pd.DataFrame({"patient_id": ["P1", "P2", "P3"], "age": [40.0, np.nan, 61.0],
                  "followup_days": [100.0, 200.0, np.inf], "death": [0.0, 1.0, 0.0]}).to_parquet(path, index=False)
    # a Parquet NaN is how pandas and R write a missing number; inf has no such meaning
    assert [(v.row, v.column, v.rule) for v in violations_of(path, dictionary_path)] == [(4, "followup_days", NOT_FINITE)]


def test_inf_follow_up_stops_the_run_before_any_work(study, tmp_path):
    study.set_cell("clinical", 5, "followup_days", "inf")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(study.spec_path), "--out", str(out)])
    assert result.exit_code == 1
    assert f"clinical.csv, row 5, column followup_days: 'inf' {NOT_FINITE}" in result.output
    assert not out.exists()


# --- tables and cohorts with nothing to analyse ------------------------------------------------


def test_a_header_only_table_is_named_at_the_join(study):
    study.write("imaging", study.read("imaging").iloc[:0])
    with pytest.raises(DataValidationError) as info:
        run(load_spec(study.spec_path))
    (violation,) = info.value.violations
    assert violation.path == str(study.table_path("imaging"))
    assert violation.rule == "(table 'imaging') has a header but no data rows, so it gives no patient to the join"
    assert "imaging.csv: (table 'imaging') has a header but no data rows" in str(info.value)


def test_tables_without_a_common_patient_say_where_everyone_went(study):
    study.write("imaging", study.read("imaging").assign(patient_id=lambda f: f["patient_id"].str.replace("P", "X")))
    with pytest.raises(ModelError, match=r"no patient to analyse: all 40 remaining were excluded at the step "
                                         r"'present in imaging' \(no row in imaging.csv\)"):
        run(load_spec(study.spec_path))


def test_an_only_event_beyond_the_horizon_is_said_so(study):
    # One event in 40 (patient P03, follow-up 491 days); a horizon of 1 year censors it.
    clinical = study.read("clinical")
    clinical["bc_death"] = ["1" if pid == "P03" else "0" for pid in clinical["patient_id"]]
    study.write("clinical", clinical)
    study.spec["endpoint"]["horizon"] = 1
    study.save_spec()
    with pytest.raises(ModelError) as info:
        run(load_spec(study.spec_path))
    assert str(info.value) == ("the analysed cohort of 40 patients has no events, so no survival model can be "
                               "estimated: 1 event (bc_death = 1) in the joined tables; 1 after the horizon of 1 "
                               "years, so censored there")


def test_an_only_event_in_an_excluded_patient_is_said_so(study):
    clinical = study.read("clinical")
    clinical["bc_death"] = ["1" if pid == "P03" else "0" for pid in clinical["patient_id"]]
    study.write("clinical", clinical)
    study.set_cell("pathology", 4, "grade", "")   # P03 on row 4: excluded (complete case)
    with pytest.raises(ModelError) as info:
        run(load_spec(study.spec_path))
    assert str(info.value) == ("the analysed cohort of 39 patients has no events, so no survival model can be "
                               "estimated: 1 event (bc_death = 1) in the joined tables; 1 in patients excluded by "
                               "the flow (missing follow-up, event or a model variable)")
