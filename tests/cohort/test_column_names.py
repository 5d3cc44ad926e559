"""Any legal column name works as key, marker, covariate, endpoint or Table 1 column (issue 9, defect 8).

The three-table study of tests/conftest.py is rewritten with its columns renamed (in the
tables, the dictionaries and the spec) to names that collide with pandas' own labels (``row``,
the name of a validated table's index; ``index``, ``level_0``, which ``reset_index`` invents;
``n``, ``column``, ``value``, ``rule``, attributes or fields of our own objects) or that are
awkward in a formula or in HTML (spaces, dots, quotes, a leading digit, non-ASCII). Each study is
checked with ``prognosis validate`` and ``prognosis run``, and its results.json and report.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from markupsafe import escape
from typer.testing import CliRunner

from prognosis.cli import app
from prognosis.cohort import read_table
from prognosis.cohort.assemble import assemble_cohort
from prognosis.errors import DataValidationError, SpecError
from prognosis.spec import load_spec

# One renaming per study; between them every awkward name takes a role.
RENAMINGS = {
    "pandas labels": {"patient_id": "row", "casting": "level_0", "age": "index", "grade": "n",
                      "followup_days": "column", "bc_death": "value", "er": "rule", "size_mm": "level_1"},
    "punctuation": {"patient_id": "patient id", "casting": "casting.type", "age": "ålder", "grade": "it's",
                    "followup_days": "1st follow-up", "bc_death": 'died "bc"', "er": "größe", "size_mm": "size (mm)"},
}


def _renamed(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, list):
        return [_renamed(v, names) for v in value]
    if isinstance(value, dict):
        return {k if k in ("name", "column", "event") else _renamed(k, names): _renamed(v, names)
                for k, v in value.items()}
    return value


def rename_columns(study, names: dict[str, str]) -> None:
    """Rename columns everywhere a user would: every table's header, dictionary and the spec."""
    for table in ("clinical", "pathology", "imaging"):
        study.write(table, study.read(table).rename(columns=names))
        content = study.dictionary(table)
        content["key"] = names.get(content["key"], content["key"])
        content["columns"] = {names.get(c, c): spec for c, spec in content["columns"].items()}
        study.save_dictionary(table, content)
    spec = {k: v for k, v in study.spec.items() if k != "tables"}
    study.spec.update(_renamed(spec, names))


@pytest.fixture(params=list(RENAMINGS), ids=list(RENAMINGS))
def renamed(request, study):
    names = RENAMINGS[request.param]
    rename_columns(study, names)
    covariates = [names["age"], names["grade"], names["er"]]
    study.spec.update(covariates=covariates, table1=[*covariates, names["size_mm"]],
                      associations=[names["grade"]], subgroups=[names["er"]], ph_test=False)
    study.save_spec()
    return study, names


def test_validate_accepts_every_name(renamed):
    study, names = renamed
    for table in ("clinical", "pathology", "imaging"):
        result = CliRunner().invoke(app, ["validate", str(study.table_path(table)),
                                          "--dictionary", str(study.dictionary_path(table))])
        assert result.exit_code == 0, result.output
        assert "no problem found" in result.output


def test_validate_locates_a_duplicate_key_of_any_name(renamed):
    study, names = renamed
    study.set_cell("clinical", 5, names["patient_id"], "P01")
    result = CliRunner().invoke(app, ["validate", str(study.table_path("clinical")),
                                      "--dictionary", str(study.dictionary_path("clinical"))])
    assert result.exit_code == 1
    key = names["patient_id"]
    assert f"clinical.csv, row 2, column {key}: 'P01' is a duplicate key (also in row 5)" in result.output
    assert "Traceback" not in result.output


def test_run_with_every_name(renamed, tmp_path):
    study, names = renamed
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(study.spec_path), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    terms = set(results["cox"]["adjusted"]["terms"])
    grade, er = names["grade"], names["er"]
    # Term names are the column names as written: `name` for a numeric, `name[level]` otherwise.
    assert terms == {f"{names['casting']}[yes]", names["age"], f"{grade}[2]", f"{grade}[3]", f"{er}[positive]"}
    assert {row["variable"] for row in results["table1"]["rows"]} == {names["age"], grade, er, names["size_mm"]}
    report = (out / "report.html").read_text(encoding="utf-8")
    # size_mm and er have no label, so the report shows their names (escaped, as Jinja writes them)
    assert str(escape(names["size_mm"])) in report and str(escape(names["er"])) in report
    assert results["n"] == 40


def test_the_join_catches_a_repeated_key_named_row(study):
    # The tables validate (no key declared), so the join is what must name the repeated rows;
    # the validated table's index is itself called `row`, which pandas once confused with the column.
    rename_columns(study, {"patient_id": "row"})
    imaging = study.read("imaging")
    study.write("imaging", pd.concat([imaging, imaging.iloc[[2]]], ignore_index=True))
    study.edit_dictionary("imaging", lambda d: d.pop("key", None))
    spec = load_spec(study.save_spec())
    tables = [read_table(t.name, t.path, t.dictionary) for t in spec.tables]
    with pytest.raises(DataValidationError) as info:
        assemble_cohort(tables, spec.join, spec.endpoint, spec.model_variables)
    assert [(v.row, v.column, v.value) for v in info.value.violations] == [(4, "row", "P03"), (42, "row", "P03")]
    assert info.value.violations[0].rule.startswith("repeats the join key (also in row 42)")


@pytest.mark.parametrize("name", ["_time", "_event", "_beyond_horizon", "_row:imaging"])
def test_a_column_named_like_the_cohorts_own_is_refused(study, name):
    rename_columns(study, {"n_calcifications": name})
    spec = load_spec(study.save_spec())
    tables = [read_table(t.name, t.path, t.dictionary) for t in spec.tables]
    with pytest.raises(SpecError, match=f"table 'imaging' \\(imaging.csv\\) has a column '{name}', a name "
                                        "prognosis uses for the cohort's own columns"):
        assemble_cohort(tables, spec.join, spec.endpoint, spec.model_variables)
