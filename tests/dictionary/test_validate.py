"""Tests of prognosis/dictionary/validate.py: every violation, located by file, row and column.

Tables are built in memory as the CSV reader delivers them (every cell text); the typed sources
(Parquet, Excel, Stata) are covered end to end in tests/cohort/test_readers.py.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from prognosis.dictionary import ColumnSpec, DataDictionary, validate_table
from prognosis.dictionary.duplicates import repeated_keys, rows_sharing_a_key
from prognosis.dictionary.validate import ROW_INDEX
from prognosis.errors import DataValidationError, Violation

PATH = "data/clinical.csv"

DICTIONARY = DataDictionary(
    table="clinical",
    key="patient_id",
    missing=("", "NA", "-9"),
    columns={
        "patient_id": ColumnSpec("patient_id", "string", required=True),
        "age": ColumnSpec("age", "numeric", required=True, min=18, max=110),
        "grade": ColumnSpec("grade", "categorical", levels=("1", "2", "3")),
        "er": ColumnSpec("er", "categorical", levels=("negative", "positive"), codes={"0": "negative", "1": "positive"}),
        "death": ColumnSpec("death", "binary"),
        "diagnosed": ColumnSpec("diagnosed", "date", format="%Y-%m-%d"),
    },
)


def table(n: int = 6, **changes: dict[int, str]) -> pd.DataFrame:
    """A valid text table of ``n`` rows; ``changes`` maps a column to {spreadsheet row: text}."""
    frame = pd.DataFrame({
        "patient_id": [f"P{i}" for i in range(1, n + 1)],
        "age": [str(40 + i) for i in range(n)],
        "grade": [str(1 + i % 3) for i in range(n)],
        "er": ["positive", "negative", "1", "0", "NA", ""][:n] + ["1"] * max(n - 6, 0),
        "death": [str(i % 2) for i in range(n)],
        "diagnosed": [(dt.date(2010, 1, 10) + dt.timedelta(days=i)).isoformat() for i in range(n)],
    })
    for column, cells in changes.items():
        for row, value in cells.items():
            frame.loc[row - 2, column] = value
    return frame


def violations(frame: pd.DataFrame, dictionary: DataDictionary = DICTIONARY) -> list[Violation]:
    with pytest.raises(DataValidationError) as info:
        validate_table(frame, dictionary, path=PATH)
    return info.value.violations


def located(found: list[Violation]) -> list[tuple]:
    return [(v.row, v.column, v.value, v.rule) for v in found]


# --- a valid table ---------------------------------------------------------------------------


def test_valid_table_is_coerced_to_declared_types():
    typed = validate_table(table(), DICTIONARY, path=PATH)

    assert typed.index.name == ROW_INDEX
    assert typed.index.tolist() == [2, 3, 4, 5, 6, 7]  # header = row 1
    assert typed["age"].dtype == float and typed["age"].tolist() == [40.0, 41.0, 42.0, 43.0, 44.0, 45.0]
    assert typed["death"].dtype == float and typed["death"].tolist() == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    assert isinstance(typed["grade"].dtype, pd.CategoricalDtype)
    assert typed["grade"].cat.categories.tolist() == ["1", "2", "3"]
    # codes applied ("1" -> positive), missing tokens ("NA", "") -> missing
    assert typed["er"].cat.categories.tolist() == ["negative", "positive"]
    assert typed["er"].tolist()[:4] == ["positive", "negative", "positive", "negative"]
    assert typed["er"].isna().tolist() == [False, False, False, False, True, True]
    assert typed["diagnosed"].dtype == "datetime64[ns]"
    assert typed.loc[2, "diagnosed"] == pd.Timestamp("2010-01-10")
    assert typed["patient_id"].tolist() == ["P1", "P2", "P3", "P4", "P5", "P6"]


def test_bounds_are_inclusive():
    typed = validate_table(table(age={2: "18", 3: "110", 4: "1.8e1"}), DICTIONARY, path=PATH)
    assert typed["age"].tolist()[:3] == [18.0, 110.0, 18.0]


def test_surrounding_spaces_are_ignored():
    typed = validate_table(table(age={2: " 50 "}, grade={2: " 3"}, er={2: "positive "}), DICTIONARY, path=PATH)
    assert typed.loc[2, "age"] == 50.0
    assert typed.loc[2, "grade"] == "3"
    assert typed.loc[2, "er"] == "positive"


def test_missing_tokens_are_missing_in_any_column():
    typed = validate_table(table(grade={2: "-9", 3: "NA"}, death={4: ""}, diagnosed={5: "NA"}),
                           DICTIONARY, path=PATH)
    assert typed["grade"].isna().tolist()[:2] == [True, True]
    assert np.isnan(typed.loc[4, "death"])
    assert pd.isna(typed.loc[5, "diagnosed"])


def test_a_token_not_declared_missing_is_a_value():
    # "." is not in this dictionary's missing tokens, so it is judged as a grade.
    assert located(violations(table(grade={3: "."}))) == [(3, "grade", ".", "is not one of {1, 2, 3}")]


def test_header_only_table_is_valid_and_empty():
    typed = validate_table(table().iloc[:0], DICTIONARY, path=PATH)
    assert len(typed) == 0 and list(typed.columns) == list(DICTIONARY.columns)


def test_date_format_from_the_dictionary():
    dictionary = DataDictionary("t", {"seen": ColumnSpec("seen", "date", format="%d/%m/%Y")})
    typed = validate_table(pd.DataFrame({"seen": ["02/01/2010", "31/12/2014"]}), dictionary, path="t.csv")
    assert typed["seen"].tolist() == [pd.Timestamp("2010-01-02"), pd.Timestamp("2014-12-31")]
    found = violations(pd.DataFrame({"seen": ["02/01/2010", "2010-01-02"]}), dictionary)
    assert located(found) == [(3, "seen", "2010-01-02", "is not a date in the format %d/%m/%Y")]


# --- one violation of each kind --------------------------------------------------------------


@pytest.mark.parametrize(("column", "text", "rule"), [
    ("age", "sixty", "is not a number"),
    ("age", "12,5", "is not a number"),
    ("age", "17", "is below the minimum 18"),
    ("age", "110.5", "is above the maximum 110"),
    ("grade", "4", "is not one of {1, 2, 3}"),
    ("grade", "III", "is not one of {1, 2, 3}"),
    ("er", "pos", "is not one of {negative, positive}"),
    ("er", "2", "is not one of {negative, positive}"),  # not a declared code
    ("death", "2", "is not 0 or 1"),
    ("death", "yes", "is not 0 or 1"),
    ("diagnosed", "2010-02-30", "is not a date in the format %Y-%m-%d"),
    ("diagnosed", "15/01/2010", "is not a date in the format %Y-%m-%d"),
])
def test_bad_cell_is_located(column, text, rule):
    found = violations(table(**{column: {5: text}}))
    assert found == [Violation(PATH, 5, column, text, rule)]


def test_required_cell_missing():
    found = violations(table(age={4: "NA"}))
    assert found == [Violation(PATH, 4, "age", None, "is missing, but the column is required")]


def test_key_is_implicitly_required():
    dictionary = DataDictionary("t", {"id": ColumnSpec("id", "string")}, key="id")
    found = violations(pd.DataFrame({"id": ["a", "", "c"]}), dictionary)
    assert located(found) == [(3, "id", None, "is missing, but the column is required")]


def test_duplicate_key_names_every_row_holding_it():
    found = violations(table(patient_id={5: "P1", 7: "P1"}))
    assert located(found) == [
        (2, "patient_id", "P1", "is a duplicate key (also in row 5, 7)"),
        (5, "patient_id", "P1", "is a duplicate key (also in row 2, 7)"),
        (7, "patient_id", "P1", "is a duplicate key (also in row 2, 5)"),
    ]


def test_duplicates_outside_the_key_are_allowed():
    validate_table(table(age={2: "50", 3: "50"}), DICTIONARY, path=PATH)


def test_declared_column_absent_from_the_file():
    found = violations(table().drop(columns="grade"))
    assert found == [Violation(PATH, None, "grade", None, "declared in the dictionary but absent from the file")]


def test_an_optional_column_may_be_absent_but_is_checked_when_present():
    from dataclasses import replace
    columns = dict(DICTIONARY.columns, grade=replace(DICTIONARY.columns["grade"], optional=True))
    optional = replace(DICTIONARY, columns=columns)
    assert validate_table(table().drop(columns="grade"), optional, path=PATH) is not None
    found = violations(table(grade={3: "7"}), optional)
    assert located(found) == [(3, "grade", "7", "is not one of {1, 2, 3}")]


def test_undeclared_column_is_an_error_unless_allow_extra():
    frame = table().assign(comment=["x"] * 6)
    found = violations(frame)
    assert found == [Violation(PATH, None, "comment", None,
                               "is not declared in the dictionary (declare it, or set allow_extra: true)")]

    lenient = DataDictionary(DICTIONARY.table, DICTIONARY.columns, key=DICTIONARY.key,
                             missing=DICTIONARY.missing, allow_extra=True)
    typed = validate_table(frame, lenient, path=PATH)
    assert typed["comment"].tolist() == ["x"] * 6  # kept, as text, unchecked


def test_column_named_twice_in_the_header():
    frame = table()
    frame.columns = ["patient_id", "age", "grade", "er", "age", "diagnosed"]
    found = violations(frame)
    assert found == [Violation(PATH, 1, "age", None,
                               "appears twice in the header (columns 2 and 5); keep one, or rename the other")]


# --- every violation at once -----------------------------------------------------------------


def test_every_violation_is_reported_at_once_sorted_by_row():
    frame = table(
        8,
        age={9: "abc", 3: "12"},
        grade={6: "7"},
        death={3: "2"},
        patient_id={4: "P6"},
    ).drop(columns="diagnosed")
    found = violations(frame)
    assert located(found) == [
        (None, "diagnosed", None, "declared in the dictionary but absent from the file"),
        (3, "age", "12", "is below the minimum 18"),
        (3, "death", "2", "is not 0 or 1"),
        (4, "patient_id", "P6", "is a duplicate key (also in row 7)"),
        (6, "grade", "7", "is not one of {1, 2, 3}"),
        (7, "patient_id", "P6", "is a duplicate key (also in row 4)"),
        (9, "age", "abc", "is not a number"),
    ]
    assert all(v.path == PATH for v in found)


def test_error_message_lists_every_violation_with_its_place():
    with pytest.raises(DataValidationError) as info:
        validate_table(table(age={3: "abc"}, grade={6: "9"}), DICTIONARY, path=PATH)
    error = info.value
    assert str(error) == (
        "2 problems found in clinical.csv:\n"
        "  clinical.csv, row 3, column age: 'abc' is not a number\n"
        "  clinical.csv, row 6, column grade: '9' is not one of {1, 2, 3}"
    )
    # the first violation, for callers that want one location
    assert (error.path, error.row, error.column, error.rule) == (PATH, 3, "age", "is not a number")


def test_long_lists_are_cut_in_the_message_but_kept_on_the_error():
    frame = table(60, age={row: "x" for row in range(2, 62)})
    with pytest.raises(DataValidationError) as info:
        validate_table(frame, DICTIONARY, path=PATH)
    lines = str(info.value).splitlines()
    assert lines[0] == "60 problems found in clinical.csv:"
    assert lines[1] == "  clinical.csv, row 2, column age: 'x' is not a number"
    assert lines[50] == "  clinical.csv, row 51, column age: 'x' is not a number"
    assert lines[-1] == "  ... and 10 more"
    assert len(info.value.violations) == 60
    assert info.value.violations[-1].row == 61


def test_patient_values_stay_out_of_the_serialised_violation():
    (violation,) = violations(table(age={3: "abc"}))
    assert violation.to_dict() == {"path": PATH, "row": 3, "column": "age", "rule": "is not a number"}
    assert violation.message(show_value=False) == "clinical.csv, row 3, column age: is not a number"


# --- typed cells are judged as their text ----------------------------------------------------


def test_typed_cells_validate_like_their_text():
    typed_source = pd.DataFrame({
        "patient_id": ["P1", "P2", "P3"],
        "age": [40, 41.5, np.int16(42)],
        "grade": [1.0, 2.0, np.nan],          # Parquet/Stata floats in a categorical column
        "er": [1, 0, None],                   # numeric codes
        "death": [True, False, np.float32(1.0)],
        "diagnosed": [dt.datetime(2010, 1, 10), pd.Timestamp("2010-01-11"), dt.date(2010, 1, 12)],
    })
    typed = validate_table(typed_source, DICTIONARY, path="clinical.parquet")
    assert typed["age"].tolist() == [40.0, 41.5, 42.0]
    assert typed["grade"].tolist()[:2] == ["1", "2"] and pd.isna(typed.loc[4, "grade"])
    assert typed["er"].tolist()[:2] == ["positive", "negative"] and pd.isna(typed.loc[4, "er"])
    assert typed["death"].tolist() == [1.0, 0.0, 1.0]
    assert typed["diagnosed"].tolist() == [pd.Timestamp("2010-01-10"), pd.Timestamp("2010-01-11"),
                                           pd.Timestamp("2010-01-12")]


def test_typed_bad_cells_are_quoted_as_text():
    typed_source = pd.DataFrame({
        "patient_id": ["P1", "P2"], "age": [40.0, 9.5], "grade": [1.0, 2.5], "er": [1, 1],
        "death": [0, 1], "diagnosed": [pd.Timestamp("2010-01-10")] * 2,
    })
    found = violations(typed_source)
    assert located(found) == [
        (3, "age", "9.5", "is below the minimum 18"),
        (3, "grade", "2.5", "is not one of {1, 2, 3}"),
    ]


BREASTS = DataDictionary("breasts", {"patient_id": ColumnSpec("patient_id", "string"),
                                     "laterality": ColumnSpec("laterality", "categorical", levels=("L", "R")),
                                     "n": ColumnSpec("n", "numeric")}, key=("patient_id", "laterality"))


def test_composite_key_repeats_only_when_every_part_repeats():
    frame = pd.DataFrame({"patient_id": ["P1", "P1", "P2", "P1"], "laterality": ["L", "R", "L", "L"],
                          "n": ["1", "2", "3", "x"]})
    assert located(violations(frame, BREASTS)) == [
        (2, "patient_id + laterality", "P1 / L", "is a duplicate key (also in row 5)"),
        (5, "patient_id + laterality", "P1 / L", "is a duplicate key (also in row 2)"),
        (5, "n", "x", "is not a number"),
    ]
    validate_table(frame.iloc[:3], BREASTS, path=PATH)


def test_every_part_of_a_composite_key_is_required():
    frame = pd.DataFrame({"patient_id": ["P1", "P2"], "laterality": ["L", ""], "n": ["1", "2"]})
    assert located(violations(frame, BREASTS)) == [(3, "laterality", None, "is missing, but the column is required")]


# --- duplicate keys: linear and bounded (issue 9, defect 17) -------------------------------------
# Timings for 8,000 and 1,000,000 rows are in benchmarks/duplicate_keys.py; here, the shape.


def test_a_key_held_by_six_rows_names_the_five_others():
    found = violations(table(8, patient_id={r: "P1" for r in (4, 5, 6, 7, 8)}))
    assert located(found)[0] == (2, "patient_id", "P1", "is a duplicate key (also in row 4, 5, 6, 7, 8)")
    assert located(found)[-1] == (8, "patient_id", "P1", "is a duplicate key (also in row 2, 4, 5, 6, 7)")


def test_a_key_held_by_many_rows_gives_each_the_same_short_message():
    n = 2_000
    frame = table(n + 2, patient_id={r: "P1" for r in range(3, n + 2)}).assign(age="50")
    found = violations(frame)
    shared = f"is a duplicate key ({n} rows share it: rows 2, 3, 4, 5, 6, … {n + 1}; each is listed as a violation)"
    assert [(v.row, v.rule) for v in found] == [(r, shared) for r in range(2, n + 2)]
    # The error message lists its first 50 violations and a count: not n lists of n - 1 rows.
    with pytest.raises(DataValidationError) as info:
        validate_table(frame, DICTIONARY, path=PATH)
    assert len(str(info.value)) < 60 * 200 and str(info.value).endswith(f"... and {n - 50} more")


def test_repeated_keys_in_order_of_first_row_with_missing_parts_left_out():
    keys = pd.DataFrame({"row": ["b", "a", "b", "a", None, None, "c"], "index": ["L", "R", "L", "R", "L", "L", "L"]},
                        index=pd.RangeIndex(2, 9, name="row"))   # labelled like a validated table
    assert [g.positions.tolist() for g in repeated_keys(keys)] == [[0, 2], [1, 3]]
    assert rows_sharing_a_key(keys["row"]) == {2: [4], 3: [5], 4: [2], 5: [3]}
    assert repeated_keys(keys.iloc[:0]) == ()
