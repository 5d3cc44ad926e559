"""Tests of prognosis/spec/derive.py (reading `derive:`/`population:`) and prognosis/cohort/derived.py
(applying them in cohort assembly: levels, bins, missing values, flow steps).

The cohort cases use a 10-patient table written here, so every expected count is read off it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from prognosis.cohort import read_table
from prognosis.cohort.assemble import assemble_cohort
from prognosis.cohort.derived import UndefinedValueWarning
from prognosis.errors import SpecError
from prognosis.spec import parse_spec

#         id  grade  nodes  size  age  months  dead
ROWS = [("A", "I", 0, 10, 40, 12, 1), ("B", "II", 3, 20, 50, 24, 0), ("C", "III", 4, 30, 60, 36, 1),
        ("D", "III", 9, 60, 70, 48, 0), ("E", "", 1, 15, 45, 60, 1), ("F", "I", "", 25, 55, 6, 0),
        ("G", "II", 4, "", 65, 18, 1), ("H", "III", 2, 40, 0, 30, 0), ("I", "I", 12, 45, 35, 42, 1),
        ("J", "II", 0, 50, 75, 54, 0)]
DICTIONARY = {"table": "t", "key": "id", "columns": {
    "id": {"type": "string", "required": True},
    "grade": {"type": "categorical", "levels": ["I", "II", "III"]},
    "nodes": {"type": "numeric", "min": 0}, "size": {"type": "numeric"}, "age": {"type": "numeric"},
    "months": {"type": "numeric"}, "dead": {"type": "binary"}}}


def spec_of(tmp_path: Path, **keys) -> dict:
    (tmp_path / "t.csv").write_text("id,grade,nodes,size,age,months,dead\n"
                                    + "".join(",".join(map(str, r)) + "\n" for r in ROWS))
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(DICTIONARY))
    return {"tables": [{"name": "t", "path": "t.csv", "dictionary": "t.yaml"}], "join": "id",
            "endpoint": {"time": {"column": "months", "unit": "months"}, "event": "dead", "unit": "months"},
            "marker": "age", **keys}


def cohort_of(tmp_path: Path, marker: str = "age", covariates=(), **keys):
    spec = parse_spec(spec_of(tmp_path, marker=marker, covariates=list(covariates), **keys),
                      path=tmp_path / "study.yaml")
    tables = [read_table(t.name, t.path, t.dictionary) for t in spec.tables]
    return assemble_cohort(tables, spec.join, spec.endpoint, spec.model_variables, extra=(spec.km.by,),
                           derive=spec.derive, population=spec.population)


def spec_error(tmp_path: Path, **keys) -> str:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec_of(tmp_path, **keys), path=tmp_path / "study.yaml")
    return str(caught.value)


# --- reading the spec ------------------------------------------------------------------------

@pytest.mark.parametrize("derive, message", [
    ({"a": {"expr": "b + 1"}, "b": {"expr": "age"}},
     "study.yaml: derive.a: uses 'b', which is derived later; derived variables are computed in the order "
     "written, so move 'b' above 'a'"),
    ({"a": {"expr": "a + 1"}}, "study.yaml: derive.a: 'a' is computed from itself"),
    ({"g": {"from": "grade", "map": {"I": "low"}, "cut": [1]}}, "study.yaml: derive.g: give exactly one of"),
    ({"g": {"from": "nodes", "cut": [4], "labels": ["few"]}},
     "study.yaml: derive.g.labels: 1 cut point makes 2 groups, so give 2 labels"),
    ({"g": {"from": "nodes", "cut": [4, 4]}}, "study.yaml: derive.g.cut: cut points must increase strictly"),
    ({"g": {"from": "nodes", "cut": [".inf"]}}, "study.yaml: derive.g.cut[0]: expected a finite number"),
    ({"g": {"cut": [4]}}, "study.yaml: derive.g: `cut` needs `from`"),
    ({"g": {"from": "grade", "map": {"I": None}}}, "every code is mapped to null"),
    ({"g": {"from": "grade", "map": {True: "x"}}}, "read as a boolean; quote it"),
    ({"g": {"expr": "age", "from": "age"}}, "`from` and `labels` belong to `map` and `cut`"),
    ({"g": {"expr": "age", "lable": "x"}}, "unknown key 'lable' (did you mean 'label'?)"),
    ({"2g": {"expr": "age"}}, "'2g' cannot be a variable name"),
    ({"_time": {"expr": "age"}}, "a name prognosis uses for the cohort's own columns"),
    ({"g": {"expr": "__import__('os').system('x')"}}, "study.yaml: derive.g.expr: "),
    (["age"], "study.yaml: derive: expected a mapping"),
])
def test_derive_spec_errors(tmp_path, derive, message):
    if derive and isinstance(derive, dict) and "g" in derive and derive["g"].get("cut") == [".inf"]:
        derive = {"g": {"from": "nodes", "cut": [float("inf")]}}
    assert message in spec_error(tmp_path, derive=derive)


@pytest.mark.parametrize("population, message", [
    (5, "study.yaml: population: expected a list of conditions"),
    (["size <= 50", "size <= 50"], "a filter is listed twice"),
    (["size.real > 1"], "study.yaml: population[0]: 'size.real > 1': Attribute"),
])
def test_population_spec_errors(tmp_path, population, message):
    assert message in spec_error(tmp_path, population=population)


def test_cut_default_labels_and_map_levels(tmp_path):
    spec = parse_spec(spec_of(tmp_path, derive={
        "n3": {"from": "nodes", "cut": [1, 4]},
        "g": {"from": "grade", "map": {"III": "high", "I": "low", "II": "low"}}}), path=tmp_path / "s.yaml")
    assert spec.derive[0].levels == ("< 1", "1 to < 4", ">= 4")
    assert spec.derive[1].levels == ("high", "low")     # order as first mapped: "high" is the reference


# --- applying them ---------------------------------------------------------------------------

def test_map_cut_and_expr_values(tmp_path):
    cohort = cohort_of(tmp_path, derive={
        "g": {"from": "grade", "map": {"I": "I-II", "II": "I-II", "III": "III"}},
        "n4": {"from": "nodes", "cut": [4], "labels": ["0-3", "4+"]},
        "old": {"expr": "age >= 60"}, "dec": {"expr": "age / 10"}},
        marker="g", covariates=["n4", "old", "dec"])
    data = cohort.data.set_index("id")
    # E (grade missing) and F (nodes missing) are excluded as complete-case, not by a filter
    assert list(data.index) == ["A", "B", "C", "D", "G", "H", "I", "J"]
    assert list(data["g"].astype(str)) == ["I-II", "I-II", "III", "III", "I-II", "III", "I-II", "I-II"]
    # [min, 4) and [4, max]: 4 itself (C, G) is "4+"
    assert list(data["n4"].astype(str)) == ["0-3", "0-3", "4+", "4+", "4+", "0-3", "4+", "0-3"]
    assert list(data["old"]) == [0, 0, 1, 1, 1, 0, 0, 1]
    assert list(data["dec"]) == [4.0, 5.0, 6.0, 7.0, 6.5, 0.0, 3.5, 7.5]
    assert cohort.variables["g"].reference == "I-II" and cohort.variables["g"].spec.type == "categorical"
    assert cohort.variables["old"].spec.type == "binary" and cohort.variables["dec"].spec.type == "numeric"
    derived = [(s.step, s.excluded, s.reason) for s in cohort.flow if s.step.startswith("derived")]
    assert derived[0] == ("derived g", 0, "grade recoded to I-II, III; missing for 1 patient")
    assert derived[1] == ("derived n4", 0, "nodes cut at 4 into 0-3, 4+; missing for 1 patient")


def test_map_to_null_is_missing_and_uncovered_codes_are_listed(tmp_path):
    cohort = cohort_of(tmp_path, derive={"g": {"from": "grade", "map": {"I": "low", "II": "low", "III": None}}},
                       marker="g")
    assert cohort.n == 6     # A B F G I J: the three grade III and the missing E excluded as g missing
    with pytest.raises(SpecError, match=r"derive.g.map: 'grade' holds values the map does not cover: "
                                        r"'III' \(3 patients\); map each to a level, or to null"):
        cohort_of(tmp_path, derive={"g": {"from": "grade", "map": {"I": "low", "II": "low"}}}, marker="g")


def test_population_flow_steps_balance_and_missing_is_excluded(tmp_path):
    cohort = cohort_of(tmp_path, population=["size <= 50", "grade != 'III'"])
    flow = {s.step: s for s in cohort.flow}
    first, second = flow["population: size <= 50"], flow["population: grade != 'III'"]
    # size: D is 60, G is missing -> 2 excluded, 8 left
    assert (first.n_before, first.excluded, first.n_after) == (10, 2, 8)
    assert first.reason == "not size <= 50: 1; 1 with size <= 50 unknown (a value it reads is missing)"
    # of A B C E F H I J: C and H are grade III, E's grade is missing -> 3 excluded
    assert (second.n_before, second.excluded, second.n_after) == (8, 3, 5)
    assert sorted(cohort.data["id"]) == ["A", "B", "F", "I", "J"]
    assert cohort.n + sum(s.excluded for s in cohort.flow) == cohort.n_read == 10
    # the filters come before the complete-case exclusions
    names = [s.step for s in cohort.flow]
    assert names.index("population: grade != 'III'") < names.index("follow-up time known")


def test_derived_variable_in_a_filter_and_division_by_zero_warns(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cohort = cohort_of(tmp_path, derive={"r": {"expr": "size / age"}}, population=["r < 1"])
    undefined = [w for w in caught if issubclass(w.category, UndefinedValueWarning)]
    assert len(undefined) == 1 and "derive.r: 'size / age' is undefined for 1 patient" in str(undefined[0].message)
    step = next(s for s in cohort.flow if s.step == "population: r < 1")
    # r: A .25 B .4 C .5 D .857 E .333 F .4545 G missing H 40/0 missing I 1.2857 J .667 -> I out, G H unknown
    assert (step.excluded, step.n_after) == (3, 7)


@pytest.mark.parametrize("keys, message", [
    ({"derive": {"age": {"expr": "nodes"}}}, "derive.age: 'age' is already a column of the tables"),
    ({"derive": {"g": {"from": "grad", "map": {"I": "x"}}}},
     "derive.g.from: 'grad' is not a declared column or an earlier derived variable (did you mean 'grade'?)"),
    ({"derive": {"g": {"from": "grade", "cut": [2]}}}, "'grade' is declared as categorical; `cut` groups a numeric"),
    ({"derive": {"g": {"expr": "grade"}}}, "gives text, not a number or a condition"),
    ({"derive": {"g": {"expr": "id == 'A'"}}}, "reads 'id', the join key"),
    ({"population": ["age"]}, "population[0]: 'age' is not a condition"),
    ({"population": ["sise < 3"]}, "'sise' is not a declared column or an earlier derived variable (did you mean 'size'?)"),
])
def test_cohort_side_errors(tmp_path, keys, message):
    with pytest.raises(SpecError) as caught:
        cohort_of(tmp_path, **keys)
    assert message in str(caught.value)


def test_derived_variable_as_stratum_subgroup_and_table1_through_the_pipeline(tmp_path):
    from prognosis.analysis.pipeline import run
    raw = spec_of(tmp_path, derive={"n4": {"from": "nodes", "cut": [4], "labels": ["0-3", "4+"]},
                                    "dec": {"expr": "age / 10"}},
                  marker="dec", km={"by": "n4"}, strata=["n4"], subgroups=["n4"], table1=["n4", "dec"], ph_test=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run(parse_spec(raw, path=tmp_path / "study.yaml"), progress=False).to_dict()
    assert list(result["cox"]["adjusted"]["terms"]) == ["dec"]
    assert np.isfinite(result["cox"]["adjusted"]["terms"]["dec"]["coef"])
    assert result["provenance"]["derive"][1] == {"name": "dec", "form": "expr", "label": "age / 10",
                                                 "expr": "age / 10"}


def test_a_missing_text_cell_held_as_pd_na_is_missing_in_a_map():
    # pd.NA (a string column's missing cell) is missing, not the code '<NA>' the map does not cover.
    import pandas as pd

    from prognosis.cohort.derived import _as_text

    assert _as_text(pd.Series(["I", pd.NA, 2.0, None], dtype=object)) == ["I", None, "2", None]
