"""Tests of prognosis/dictionary/model.py: loading a data dictionary and rejecting bad ones."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from prognosis.dictionary import ColumnSpec, DataDictionary, load_dictionary
from prognosis.errors import DictionaryError

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str, name: str = "clinical.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str, name: str = "clinical.yaml") -> str:
    with pytest.raises(DictionaryError) as info:
        load_dictionary(write(tmp_path, text, name))
    return str(info.value)


# --- a valid dictionary ----------------------------------------------------------------------


def test_valid_dictionary_is_read_with_levels_and_codes_as_text(tmp_path):
    path = write(tmp_path, """\
        table: pathology
        key: patient_id
        missing: ["", NA, -9]
        allow_extra: true
        description: one row per patient
        columns:
          patient_id: {type: string, required: true, label: Patient identifier}
          size_mm:    {type: numeric, min: 0, max: 300, unit: mm}
          grade:      {type: categorical, levels: [1, 2, 3.0]}
          er:         {type: categorical, levels: [negative, positive], codes: {0: negative, 1: positive}}
          death:      {type: binary}
          diagnosed:  {type: date}
          seen:       {type: date, format: "%d/%m/%Y"}
        """)
    dictionary = load_dictionary(path)

    assert dictionary.table == "pathology"
    assert dictionary.key == "patient_id"
    assert dictionary.missing == ("", "NA", "-9")
    assert dictionary.allow_extra is True
    assert dictionary.path == str(path)
    assert list(dictionary.columns) == ["patient_id", "size_mm", "grade", "er", "death", "diagnosed", "seen"]
    # YAML reads 1 as int and 3.0 as float; cells are compared as text, so both become "1", "3".
    assert dictionary.columns["grade"].levels == ("1", "2", "3")
    assert dictionary.columns["er"].codes == {"0": "negative", "1": "positive"}
    assert dictionary.columns["size_mm"] == ColumnSpec("size_mm", "numeric", min=0.0, max=300.0, unit="mm")
    assert dictionary.columns["patient_id"].required is True
    assert dictionary.columns["patient_id"].display_name == "Patient identifier"
    assert dictionary.columns["size_mm"].display_name == "size_mm"
    assert dictionary.columns["death"].category_levels == ("0", "1")
    assert dictionary.columns["death"].is_categorical and not dictionary.columns["size_mm"].is_categorical
    assert dictionary.columns["diagnosed"].format == "%Y-%m-%d"  # the default
    assert dictionary.columns["seen"].format == "%d/%m/%Y"


def test_defaults_when_optional_table_fields_are_absent(tmp_path):
    dictionary = load_dictionary(write(tmp_path, """\
        table: imaging
        columns:
          casting: {type: categorical, levels: ["no", "yes"]}
        """))
    assert dictionary.key is None
    assert dictionary.missing == ("",)
    assert dictionary.allow_extra is False
    assert dictionary.columns["casting"].levels == ("no", "yes")
    assert dictionary.columns["casting"].required is False


@pytest.mark.parametrize("table", ["clinical", "pathology", "imaging"])
def test_bundled_dictionaries_load(table):
    dictionary = load_dictionary(ROOT / "data_dictionary" / f"{table}.yaml")
    assert dictionary.table == table
    assert dictionary.key == "patient_id"


def test_column_lookup_of_an_undeclared_name_suggests_the_closest(tmp_path):
    dictionary = load_dictionary(write(tmp_path, """\
        table: clinical
        columns:
          followup_days: {type: numeric}
        """))
    assert dictionary.column("followup_days").type == "numeric"
    with pytest.raises(DictionaryError, match=r"clinical\.yaml: column 'followup_day' is not declared "
                                              r"\(did you mean 'followup_days'\?\)"):
        dictionary.column("followup_day")


def test_source_names_the_table_when_the_dictionary_has_no_file():
    dictionary = DataDictionary("clinical", {"age": ColumnSpec("age", "numeric")})
    with pytest.raises(DictionaryError, match=r"^dictionary of clinical: column 'sex' is not declared$"):
        dictionary.column("sex")


# --- the file itself -------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(DictionaryError, match=r"data dictionary .*nowhere\.yaml does not exist"):
        load_dictionary(tmp_path / "nowhere.yaml")


def test_file_that_is_not_yaml(tmp_path):
    message = load_error(tmp_path, "table: clinical\ncolumns: {age: [type: numeric\n")
    assert message.startswith("clinical.yaml: cannot be read as YAML")


def test_file_that_is_not_text(tmp_path):
    path = tmp_path / "clinical.yaml"
    path.write_bytes(b"\xff\xfe\x00binary\x81\x82")
    with pytest.raises(DictionaryError, match=r"^clinical\.yaml: cannot be read as YAML"):
        load_dictionary(path)


@pytest.mark.parametrize("text", ["", "- table: clinical\n", "just words\n"])
def test_top_level_must_be_a_mapping(tmp_path, text):
    assert load_error(tmp_path, text) == "clinical.yaml: expected a mapping with `table` and `columns`"


# --- table fields ----------------------------------------------------------------------------


def test_unknown_table_field_suggests_the_closest(tmp_path):
    message = load_error(tmp_path, """\
        table: clinical
        allow_extras: true
        columns: {age: {type: numeric}}
        """)
    assert message == "clinical.yaml: unknown field 'allow_extras' (did you mean 'allow_extra'?)"


def test_table_name_is_required(tmp_path):
    message = load_error(tmp_path, "columns: {age: {type: numeric}}\n")
    assert message == "clinical.yaml: `table` (the table's name) is required"


@pytest.mark.parametrize("columns", ["", "columns: {}", "columns: [age, grade]"])
def test_columns_must_be_a_non_empty_mapping(tmp_path, columns):
    message = load_error(tmp_path, f"table: clinical\n{columns}\n")
    assert message == "clinical.yaml: `columns` must map each column name to its declaration"


def test_key_must_be_a_declared_column(tmp_path):
    message = load_error(tmp_path, """\
        table: clinical
        key: patient
        columns: {patient_id: {type: string}}
        """)
    assert message == "clinical.yaml: key 'patient' is not a declared column (did you mean 'patient_id'?)"


def test_a_key_column_cannot_be_optional(tmp_path):
    message = load_error(tmp_path, """\
        table: clinical
        key: patient_id
        columns: {patient_id: {type: string, optional: true}}
        """)
    assert message == "clinical.yaml: key column 'patient_id' cannot be optional: every row is identified by it"


def test_optional_is_read_as_a_flag(tmp_path):
    dictionary = load_dictionary(write(tmp_path, """\
        table: clinical
        columns: {a: {type: numeric, optional: true}, b: {type: numeric}}
        """))
    assert dictionary.columns["a"].optional and not dictionary.columns["b"].optional


def test_missing_must_be_a_list(tmp_path):
    message = load_error(tmp_path, "table: clinical\nmissing: NA\ncolumns: {age: {type: numeric}}\n")
    assert message == 'clinical.yaml: `missing` must be a list of tokens such as ["", "NA"]'


def test_missing_token_read_as_boolean_is_rejected(tmp_path):
    # A bare `no` would be the boolean False, i.e. the token "0": every 0 would become missing.
    message = load_error(tmp_path, "table: clinical\nmissing: [NA, no]\ncolumns: {death: {type: binary}}\n")
    assert message.startswith("clinical.yaml: `missing` has a token read as a boolean; quote it")


# --- column fields ---------------------------------------------------------------------------


def test_unknown_column_field_suggests_the_closest(tmp_path):
    message = load_error(tmp_path, "table: clinical\ncolumns: {age: {type: numeric, lable: Age}}\n")
    assert message == "clinical.yaml: column 'age' has unknown field 'lable' (did you mean 'label'?)"


def test_unknown_column_type_suggests_the_closest(tmp_path):
    message = load_error(tmp_path, "table: clinical\ncolumns: {age: {type: numerical}}\n")
    assert message == ("clinical.yaml: column 'age' has type 'numerical'; expected one of "
                       "string, numeric, binary, categorical, date (did you mean 'numeric'?)")


def test_column_type_is_required(tmp_path):
    message = load_error(tmp_path, "table: clinical\ncolumns: {age: {label: Age}}\n")
    assert message.startswith("clinical.yaml: column 'age' has type None; expected one of")


def test_column_declaration_must_be_a_mapping(tmp_path):
    message = load_error(tmp_path, "table: clinical\ncolumns: {age: numeric}\n")
    assert message == "clinical.yaml: column 'age' must be a mapping such as {type: numeric}"


@pytest.mark.parametrize("declaration", [
    "{type: categorical, levels: [no, yes]}",
    "{type: categorical, levels: [negative, positive], codes: {0: negative, 1: yes}}",
    "{type: categorical, levels: [negative, positive], codes: {no: negative, yes: positive}}",
    "{type: categorical, levels: [off, on]}",
])
def test_yaml_booleans_in_levels_or_codes_are_rejected_with_a_hint(tmp_path, declaration):
    message = load_error(tmp_path, f"table: imaging\ncolumns:\n  casting: {declaration}\n", "imaging.yaml")
    assert message == ("imaging.yaml: column 'casting' has a level read as a boolean; "
                       'quote it, e.g. levels: ["no", "yes"]')


def test_quoted_no_and_yes_are_levels(tmp_path):
    dictionary = load_dictionary(write(tmp_path, """\
        table: imaging
        columns: {casting: {type: categorical, levels: ["no", "yes"], codes: {"n": "no", "y": "yes"}}}
        """))
    assert dictionary.columns["casting"].levels == ("no", "yes")
    assert dictionary.columns["casting"].codes == {"n": "no", "y": "yes"}


def test_categorical_needs_levels(tmp_path):
    message = load_error(tmp_path, "table: pathology\ncolumns: {grade: {type: categorical}}\n", "pathology.yaml")
    assert message == "pathology.yaml: categorical column 'grade' needs `levels`"


def test_a_level_listed_twice(tmp_path):
    # 1 and 1.0 are the same cell text, so they are the same level.
    message = load_error(tmp_path, "table: pathology\ncolumns: {grade: {type: categorical, levels: [1, 2, 1.0]}}\n",
                         "pathology.yaml")
    assert message == "pathology.yaml: column 'grade' lists a level twice"


@pytest.mark.parametrize("declaration", [
    "{type: categorical, levels: negative}",
    "{type: categorical, levels: 3}",
    "{type: categorical, levels: [negative, positive], codes: [0, 1]}",
])
def test_levels_must_be_a_list_and_codes_a_mapping(tmp_path, declaration):
    # A bare string used to be split into one-letter levels; a number crashed with a TypeError.
    message = load_error(tmp_path, f"table: pathology\ncolumns:\n  er: {declaration}\n", "pathology.yaml")
    assert message.startswith("pathology.yaml: column 'er': `levels` must be a list and `codes` a mapping")


def test_codes_must_map_to_declared_levels(tmp_path):
    message = load_error(tmp_path, """\
        table: pathology
        columns:
          er: {type: categorical, levels: [negative, positive], codes: {0: negative, 1: pos}}
        """, "pathology.yaml")
    assert message == "pathology.yaml: column 'er' maps codes to ['pos'], which are not among its levels"


@pytest.mark.parametrize(("declaration", "expected"), [
    ("{type: numeric, levels: [1, 2]}", "`levels` and `codes` apply only to categorical columns ('x')"),
    ("{type: binary, codes: {y: 1}}", "`levels` and `codes` apply only to categorical columns ('x')"),
    ("{type: categorical, levels: [a], min: 0}", "`min` applies only to numeric columns ('x')"),
    ("{type: date, max: 3}", "`max` applies only to numeric columns ('x')"),
    ("{type: string, format: '%Y'}", "`format` applies only to date columns ('x')"),
    ("{type: numeric, min: low}", "`min` of column 'x' must be a number, not 'low'"),
    ("{type: numeric, max: true}", "`max` of column 'x' must be a number, not True"),
    ("{type: date, format: 2020}", "`format` of column 'x' must be text such as \"%Y-%m-%d\""),
])
def test_field_that_does_not_fit_the_type(tmp_path, declaration, expected):
    message = load_error(tmp_path, f"table: t\ncolumns:\n  x: {declaration}\n", "t.yaml")
    assert message == f"t.yaml: {expected}"


@pytest.mark.parametrize("field", ["required", "allow_extra"])
def test_a_quoted_flag_is_rejected(tmp_path, field):
    # "false" in quotes is a non-empty string; read as a flag it would mean true.
    content = {"table": "t", "columns": {"a": {"type": "string"}}}
    if field == "required":
        content["columns"]["a"]["required"] = "false"
    else:
        content["allow_extra"] = "no"
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(content))
    with pytest.raises(DictionaryError, match=f"`{field}` must be true or false"):
        load_dictionary(path)


def test_composite_key_of_the_per_breast_dictionary():
    dictionary = load_dictionary(ROOT / "data_dictionary" / "imaging_breast.yaml")
    assert dictionary.key == ("patient_id", "laterality")
    assert dictionary.key_columns == ("patient_id", "laterality")
    assert load_dictionary(ROOT / "data_dictionary" / "imaging.yaml").key_columns == ("patient_id",)


@pytest.mark.parametrize("key, expected", [
    ("[patient_id, side]", "clinical.yaml: key column 'side' is not a declared column (did you mean 'site'?)"),
    ("[patient_id, patient_id]", "clinical.yaml: key must be a column name or a list of distinct column names"),
    ("[]", "clinical.yaml: key must be a column name or a list of distinct column names"),
    # found by tests/test_fuzz_inputs.py: a nested list raised TypeError (unhashable) before the check
    ("[patient_id, [site, .inf]]", "clinical.yaml: key must be a column name or a list of distinct column names"),
])
def test_composite_key_must_name_distinct_declared_columns(tmp_path, key, expected):
    message = load_error(tmp_path, f"""\
        table: clinical
        key: {key}
        columns: {{patient_id: {{type: string}}, site: {{type: string}}}}
        """)
    assert message == expected


# --- issue 9: contradictory and non-finite declarations (defects 11, 15, 19) -------------------


@pytest.mark.parametrize(("declaration", "expected"), [
    ("{type: numeric, min: 110, max: 18}", "column 'x': `min` 110 is above `max` 18; swap them"),
    ("{type: numeric, min: .inf}", "`min` of column 'x' must be a finite number, not inf"),
    ("{type: numeric, max: .nan}", "`max` of column 'x' must be a finite number, not nan"),
    ("{type: numeric, min: -.inf, max: 5}", "`min` of column 'x' must be a finite number, not -inf"),
    ("{type: numeric, max: 1" + "0" * 400 + "}", "`max` of column 'x' must be a finite number, not 1" + "0" * 400),
    ("{type: categorical, levels: [a, b], codes: {1: a, '1': b}}", "column 'x': code '1' is declared twice"),
    ("{type: categorical, levels: [a, b], codes: {a: b}}",
     "column 'x': code 'a' maps to 'b', but 'a' is itself a level; a cell 'a' could not be told apart"),
    ("{type: categorical, levels: [a, b], label: [a, b]}", "column 'x': `label` must be text"),
    ("{type: numeric, unit: {a: 1}}", "column 'x': `unit` must be text"),
])
def test_contradictory_or_non_finite_column_declarations(tmp_path, declaration, expected):
    message = load_error(tmp_path, f"table: t\ncolumns:\n  x: {declaration}\n", "t.yaml")
    assert message == f"t.yaml: {expected}"


def test_equal_min_and_max_is_allowed(tmp_path):
    dictionary = load_dictionary(write(tmp_path, "table: t\ncolumns:\n  x: {type: numeric, min: 1, max: 1}\n"))
    assert (dictionary.columns["x"].min, dictionary.columns["x"].max) == (1.0, 1.0)


@pytest.mark.parametrize(("missing", "column", "expected"), [
    ('["", NA]', "{type: categorical, levels: [NA, positive]}",
     "missing token 'NA' is also a level of column 'x'; a cell 'NA' cannot be both"),
    ('["", "9"]', "{type: categorical, levels: [a, b], codes: {9: b}}",
     "missing token '9' is also a code of column 'x'; a cell '9' cannot be both"),
    ('["", "0"]', "{type: binary}", "missing token '0' is a value of the binary column 'x'; a cell '0' cannot be both"),
])
def test_missing_tokens_that_are_also_values_are_refused(tmp_path, missing, column, expected):
    message = load_error(tmp_path, f"table: t\nmissing: {missing}\ncolumns:\n  x: {column}\n", "t.yaml")
    assert message == f"t.yaml: {expected}"


def test_a_column_declared_twice_names_the_line(tmp_path):
    # it used to keep the second declaration only, losing the range check of the first
    message = load_error(tmp_path, """\
        table: clinical
        columns:
          age: {type: numeric, min: 18, max: 110}
          grade: {type: categorical, levels: [1, 2, 3]}
          age: {type: numeric}
        """)
    assert message.startswith("clinical.yaml line 5: key 'age' appears twice in `columns` (first at line 3)")


@pytest.mark.parametrize(("text", "expected"), [
    ("table: t\ncolumns:\n  yes: {type: string}\n", "column name True was read as a boolean or null; quote it"),
    ("table: t\ncolumns:\n  null: {type: string}\n", "column name None was read as a boolean or null; quote it"),
    ("table: [a, b]\ncolumns:\n  x: {type: string}\n", "`table` must be a name, not ['a', 'b']"),
    ("table: t\ncolumns:\n  x: {type: string}\nmissing: [[NA]]\n", "`missing` tokens must be text or numbers, not ['NA']"),
    ("table: t\ncolumns:\n  x: {type: string}\nmissing: [.nan]\n", "`missing` tokens must be text or numbers, not nan"),
])
def test_names_and_tokens_of_the_wrong_kind(tmp_path, text, expected):
    assert load_error(tmp_path, text, "t.yaml") == f"t.yaml: {expected}"
