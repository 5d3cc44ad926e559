"""Tests of prognosis/spec/load.py: loading the analysis spec, its checks and its relative paths."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from prognosis.errors import SpecError
from prognosis.spec import (
    DAYS_PER_UNIT,
    EndpointSpec,
    KMSpec,
    TableSpec,
    TimeSpec,
    VariableSpec,
    load_spec,
    parse_spec,
)

ROOT = Path(__file__).resolve().parents[1]

MINIMAL: dict[str, Any] = {
    "tables": [{"name": "clinical", "path": "data/clinical.csv", "dictionary": "dictionaries/clinical.yaml"}],
    "join": "patient_id",
    "endpoint": {"time": {"column": "followup_days", "unit": "days"}, "event": "bc_death"},
    "marker": "casting",
}


def spec_file(tmp_path: Path, content: Any, name: str = "study.yaml") -> Path:
    path = tmp_path / "analyses" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    return path


def changed(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(MINIMAL)
    for key, value in changes.items():
        if value is None:
            spec.pop(key)
        else:
            spec[key] = value
    return spec


def spec_error(tmp_path: Path, content: Any) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(spec_file(tmp_path, content))
    return str(info.value)


# --- valid specs -----------------------------------------------------------------------------


def test_bundled_demo_spec():
    spec = load_spec(ROOT / "analyses" / "demo.yaml")
    assert spec.name == "demo"
    assert spec.title == "Casting-type calcification and breast-cancer death"
    assert [t.name for t in spec.tables] == ["clinical", "pathology", "imaging"]
    assert spec.tables[0] == TableSpec("clinical", ROOT / "data" / "demo" / "clinical.csv",
                                       ROOT / "data_dictionary" / "clinical.yaml")
    assert spec.join == "patient_id"
    assert spec.endpoint == EndpointSpec(TimeSpec(column="followup_days", unit="days"), "bc_death", "years", 10.0)
    assert spec.marker == VariableSpec("casting", "no")
    assert spec.covariates == (VariableSpec("age"), VariableSpec("size_cat", "<=20"), VariableSpec("grade"),
                               VariableSpec("nodes"), VariableSpec("er"), VariableSpec("her2"))
    assert spec.model_variables[0] == spec.marker
    assert spec.km == KMSpec("casting", (5.0, 10.0), strata=("grade",), weights=(1.0, 0.0))
    assert spec.options.competing.of_interest == "breast_cancer" and spec.options.subgroups == ("her2", "er", "grade")
    assert spec.raw["marker"] == {"name": "casting", "reference": "no"}  # as written, for provenance


def test_minimal_spec_defaults(tmp_path):
    spec = load_spec(spec_file(tmp_path, MINIMAL))
    assert spec.title == "study"  # the file name when no title
    assert spec.description is None
    assert spec.endpoint.unit == "years" and spec.endpoint.horizon is None
    assert spec.covariates == ()
    assert spec.km == KMSpec("casting", ())  # KM by the marker
    assert spec.marker == VariableSpec("casting", None)


def test_relative_paths_resolve_against_the_spec_folder_not_the_working_directory(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    spec = load_spec(spec_file(tmp_path, changed(tables=[
        {"name": "clinical", "path": "../data/clinical.csv", "dictionary": "dictionaries/clinical.yaml"},
    ])))
    assert spec.tables[0].path == (tmp_path / "data" / "clinical.csv").resolve()
    assert spec.tables[0].dictionary == (tmp_path / "analyses" / "dictionaries" / "clinical.yaml").resolve()
    assert spec.path == (tmp_path / "analyses" / "study.yaml").resolve()


def test_spec_path_itself_may_be_relative(tmp_path, monkeypatch):
    spec_file(tmp_path, MINIMAL)
    monkeypatch.chdir(tmp_path)
    spec = load_spec("analyses/study.yaml")
    assert spec.tables[0].path == (tmp_path / "analyses" / "data" / "clinical.csv").resolve()


def test_absolute_paths_are_kept(tmp_path):
    absolute = tmp_path / "shared" / "clinical.csv"
    spec = load_spec(spec_file(tmp_path, changed(tables=[
        {"name": "clinical", "path": str(absolute), "dictionary": "d.yaml"},
    ])))
    assert spec.tables[0].path == absolute


def test_paths_resolve_against_the_working_directory_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = parse_spec(copy.deepcopy(MINIMAL))
    assert spec.tables[0].path == (tmp_path / "data" / "clinical.csv").resolve()
    assert spec.name == "analysis"


def test_start_and_end_dates(tmp_path):
    spec = load_spec(spec_file(tmp_path, changed(endpoint={
        "time": {"start": "diagnosis_date", "end": "last_contact_date"}, "event": "bc_death", "unit": "months"})))
    assert spec.endpoint.time == TimeSpec(start="diagnosis_date", end="last_contact_date")
    assert spec.endpoint.time.columns == ("diagnosis_date", "last_contact_date")
    assert spec.endpoint.unit == "months"


def test_km_times_are_sorted_and_horizon_is_a_float(tmp_path):
    spec = load_spec(spec_file(tmp_path, changed(
        km={"by": "grade", "times": [10, 2.5, 5]},
        endpoint={**MINIMAL["endpoint"], "horizon": 10})))
    assert spec.km == KMSpec("grade", (2.5, 5.0, 10.0))
    assert spec.endpoint.horizon == 10.0


def test_numeric_reference_is_kept_as_text(tmp_path):
    spec = load_spec(spec_file(tmp_path, changed(covariates=[{"name": "grade", "reference": 1}])))
    assert spec.covariates == (VariableSpec("grade", "1"),)


def test_days_per_unit():
    assert DAYS_PER_UNIT == {"days": 1.0, "months": 365.25 / 12, "years": 365.25}


# --- the file --------------------------------------------------------------------------------


def test_missing_spec_file(tmp_path):
    with pytest.raises(SpecError, match=r"^analysis spec .*nowhere\.yaml does not exist$"):
        load_spec(tmp_path / "nowhere.yaml")


def test_spec_that_is_not_yaml(tmp_path):
    assert spec_error(tmp_path, "tables: [{name: a\n").startswith("study.yaml: cannot be read as YAML")


@pytest.mark.parametrize("content", ["", "- a\n- b\n", "hello\n"])
def test_spec_must_be_a_mapping(tmp_path, content):
    assert spec_error(tmp_path, content).startswith("study.yaml: expected a mapping with keys title, description,")


# --- keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "message"), [
    (changed(covariate=["age"]),
     "study.yaml: unknown key 'covariate' (did you mean 'covariates'?); allowed: title, description, tables, "
     "join, endpoint, marker, covariates, km, derive, population, ties, robust, cluster, strata, ph_test, interactions, subgroups, "
     "validation, missing, associations, competing, table1, misclassification"),
    (changed(endpoint={**MINIMAL["endpoint"], "horizn": 10}),
     "study.yaml: endpoint: unknown key 'horizn' (did you mean 'horizon'?); allowed: time, event, unit, horizon"),
    (changed(endpoint={"time": {"colum": "followup_days"}, "event": "bc_death"}),
     "study.yaml: endpoint.time: unknown key 'colum' (did you mean 'column'?); allowed: column, start, end, unit"),
    (changed(tables=[{"name": "c", "file": "c.csv", "dictionary": "c.yaml"}]),
     "study.yaml: tables[0]: unknown key 'file'; allowed: name, path, dictionary"),
    (changed(km={"by": "casting", "time": [5]}),
     "study.yaml: km: unknown key 'time' (did you mean 'times'?); allowed: by, times, strata, conf_type, weights"),
    (changed(marker={"name": "casting", "ref": "no"}),
     "study.yaml: marker: unknown key 'ref'; allowed: name, reference"),
])
def test_unknown_key_with_a_hint(tmp_path, spec, message):
    assert spec_error(tmp_path, spec) == message


@pytest.mark.parametrize("key", ["tables", "join", "endpoint", "marker"])
def test_required_top_key(tmp_path, key):
    assert spec_error(tmp_path, changed(**{key: None})) == f"study.yaml: `{key}` is required"


@pytest.mark.parametrize(("spec", "message"), [
    (changed(tables=[]), "study.yaml: tables: expected a list of {name, path, dictionary}"),
    (changed(tables={"name": "c"}), "study.yaml: tables: expected a list of {name, path, dictionary}"),
    (changed(tables=[{"name": "c", "path": "c.csv"}]), "study.yaml: tables[0]: `dictionary` is required"),
    (changed(tables=[{"name": "c", "path": "", "dictionary": "c.yaml"}]),
     "study.yaml: tables[0].path: expected a non-empty name"),
    (changed(tables=[MINIMAL["tables"][0], MINIMAL["tables"][0]]), "study.yaml: tables: table names must be unique"),
    (changed(join=["patient_id"]), "study.yaml: join: expected a non-empty name"),
    (changed(endpoint={"time": {"column": "followup_days"}}), "study.yaml: endpoint: `event` is required"),
    (changed(endpoint={"event": "bc_death"}), "study.yaml: endpoint: `time` is required"),
    (changed(endpoint={"time": "followup_days", "event": "bc_death"}),
     "study.yaml: endpoint.time: expected a mapping with keys column, start, end, unit"),
    (changed(endpoint={"time": {"column": "followup_days", "start": "d"}, "event": "bc_death"}),
     "study.yaml: endpoint.time: give either `column` (with `unit`) or both `start` and `end` dates"),
    (changed(endpoint={"time": {"start": "diagnosis_date"}, "event": "bc_death"}),
     "study.yaml: endpoint.time: give either `column` (with `unit`) or both `start` and `end` dates"),
    (changed(endpoint={"time": {"unit": "days"}, "event": "bc_death"}),
     "study.yaml: endpoint.time: give either `column` (with `unit`) or both `start` and `end` dates"),
    (changed(endpoint={"time": {"column": ["followup_days"]}, "event": "bc_death"}),
     "study.yaml: endpoint.time.column: expected a non-empty name"),
    (changed(endpoint={"time": {"start": "d", "end": None}, "event": "bc_death"}),
     "study.yaml: endpoint.time.end: expected a non-empty name"),
    (changed(endpoint={"time": {"column": "followup_days", "unit": "day"}, "event": "bc_death"}),
     "study.yaml: endpoint.time.unit: unit 'day' is not one of days, months, years (did you mean 'days'?)"),
    (changed(endpoint={**MINIMAL["endpoint"], "unit": "yrs"}),
     "study.yaml: endpoint.unit: unit 'yrs' is not one of days, months, years (did you mean 'years'?)"),
    (changed(endpoint={**MINIMAL["endpoint"], "horizon": 0}),
     "study.yaml: endpoint.horizon: expected a positive number, got 0"),
    (changed(endpoint={**MINIMAL["endpoint"], "horizon": "10y"}),
     "study.yaml: endpoint.horizon: expected a positive number, got '10y'"),
    (changed(endpoint={**MINIMAL["endpoint"], "horizon": True}),
     "study.yaml: endpoint.horizon: expected a positive number, got True"),
    (changed(marker={"reference": "no"}), "study.yaml: marker: a variable needs `name`"),
    (changed(marker=""), "study.yaml: marker: expected a non-empty name"),
    (changed(covariates="age"), "study.yaml: covariates: expected a list of column names or {name, reference}"),
    (changed(covariates=["age", "casting"]),
     "study.yaml: covariates: a variable is listed twice (the marker is not repeated among covariates)"),
    (changed(km=["casting"]), "study.yaml: km: expected a mapping with keys by, times, strata, conf_type, weights"),
    (changed(km={"times": 5}), "study.yaml: km.times: expected a list of times in the endpoint unit"),
    (changed(km={"times": [5, -1]}), "study.yaml: km.times[1]: expected a positive number, got -1"),
])
def test_malformed_value(tmp_path, spec, message):
    assert spec_error(tmp_path, spec) == message


def test_reference_read_as_a_yaml_boolean(tmp_path):
    text = yaml.safe_dump(changed(marker=None), sort_keys=False) + "marker: {name: casting, reference: no}\n"
    assert spec_error(tmp_path, text) == ('study.yaml: marker: reference False was read as a boolean; '
                                          'quote it, e.g. reference: "no"')


# --- issue 9, defect 15: non-finite numbers are refused by key, before any work ----------------


@pytest.mark.parametrize(("endpoint_extra", "text", "message"), [
    ({}, "horizon: .inf", "study.yaml: endpoint.horizon: expected a finite positive number, got inf"),
    ({}, "horizon: .nan", "study.yaml: endpoint.horizon: expected a finite positive number, got nan"),
    ({}, "horizon: -.inf", "study.yaml: endpoint.horizon: expected a finite positive number, got -inf"),
])
def test_non_finite_horizon(tmp_path, endpoint_extra, text, message):
    body = yaml.safe_dump(changed(), sort_keys=False).replace("  event: bc_death\n", f"  event: bc_death\n  {text}\n")
    assert spec_error(tmp_path, body) == message


@pytest.mark.parametrize(("times", "message"), [
    ("[5, .inf]", "study.yaml: km.times[1]: expected a finite positive number, got inf"),
    ("[.NaN]", "study.yaml: km.times[0]: expected a finite positive number, got nan"),
    ("[5, 5.0]", "study.yaml: km.times: a time is listed twice"),
])
def test_non_finite_or_repeated_km_times(tmp_path, times, message):
    body = yaml.safe_dump(changed(), sort_keys=False) + f"km: {{by: casting, times: {times}}}\n"
    assert spec_error(tmp_path, body) == message


def test_a_title_that_is_a_list_is_refused(tmp_path):
    body = yaml.safe_dump(changed(), sort_keys=False) + "title: [a, b]\n"
    assert spec_error(tmp_path, body).startswith("study.yaml: title: expected text")


def test_a_spec_with_a_key_twice_is_refused(tmp_path):
    # defect 11: this spec used to run with the second list of covariates only
    body = yaml.safe_dump(changed(), sort_keys=False) + "covariates: [age, grade]\ncovariates: [er]\n"
    message = spec_error(tmp_path, body)
    assert message.startswith("study.yaml line ") and "'covariates' appears twice in the top level" in message


def test_an_alias_bomb_in_the_title_is_refused_quickly(tmp_path):
    # defect 17: nine levels of nine aliases (9^9 strings) exhausted memory once the title was used
    import time

    lines = ['a0: &a0 "lol"'] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    body = "\n".join(lines) + "\ntitle: *a9\n" + yaml.safe_dump(changed(), sort_keys=False)
    start = time.perf_counter()
    message = spec_error(tmp_path, body)
    assert time.perf_counter() - start < 5
    assert message.startswith("study.yaml: its aliases (*name) would expand to more than 100,000 values")
