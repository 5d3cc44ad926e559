"""Tests of prognosis/spec/options.py: the statistical-core keys of the analysis spec."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from prognosis.errors import SpecError
from prognosis.spec import parse_spec
from prognosis.spec.options import AnalysisOptions, CompetingSpec, MissingSpec, ValidationSpec

MINIMAL: dict[str, Any] = {
    "tables": [{"name": "clinical", "path": "clinical.csv", "dictionary": "clinical.yaml"}],
    "join": "patient_id",
    "endpoint": {"time": {"column": "followup_days", "unit": "days"}, "event": "bc_death"},
    "marker": "casting",
}


def with_keys(**keys: Any) -> dict[str, Any]:
    spec = copy.deepcopy(MINIMAL)
    spec.update(keys)
    return spec


def test_defaults_are_a_plain_complete_case_efron_analysis():
    options = parse_spec(MINIMAL).options
    assert options == AnalysisOptions()
    assert options.ties == "efron" and options.ph_test and not options.robust
    assert options.missing == MissingSpec("complete_case", 20, 1, 10)
    assert options.validation is None and options.competing is None


def test_every_key_of_the_issue_is_read():
    spec = parse_spec(with_keys(
        ties="breslow", robust=True, cluster="hospital", strata=["grade"], ph_test=False,
        interactions=[["casting", "her2"]], subgroups=["her2", "er", "grade"],
        validation={"bootstrap": 200, "seed": 1, "times": [10, 5]},
        missing={"method": "multiple_imputation", "m": 20, "seed": 1},
        associations=["grade", "nodes", "er", "pr", "her2", "extent"],
        competing={"column": "death_cause", "codes": {1: "breast_cancer", 2: "other"}, "of_interest": "breast_cancer"},
        km={"by": "casting", "strata": ["grade"], "times": [5]},
    ))
    o = spec.options
    assert (o.ties, o.robust, o.cluster, o.strata, o.ph_test) == ("breslow", True, "hospital", ("grade",), False)
    assert o.interactions == (("casting", "her2"),)
    assert o.subgroups == ("her2", "er", "grade")
    assert o.validation == ValidationSpec(bootstrap=200, seed=1, times=(5.0, 10.0))
    assert o.missing.method == "multiple_imputation"
    assert o.associations[-1] == "extent"
    assert o.competing == CompetingSpec("death_cause", {"1": "breast_cancer", "2": "other"}, "breast_cancer")
    assert o.competing.causes == ("breast_cancer", "other")
    assert spec.km.strata == ("grade",)
    assert o.model_columns == ("grade", "hospital")


def test_cluster_implies_robust():
    assert parse_spec(with_keys(cluster="hospital")).options.robust


@pytest.mark.parametrize(("keys", "message"), [
    ({"ties": "exact"}, "spec: ties: 'exact' is not one of efron, breslow"),
    ({"ties": "breslo"}, "(did you mean 'breslow'?)"),
    ({"robust": "yes"}, "spec: robust: expected true or false, got 'yes'"),
    ({"interactions": [["casting"]]}, "spec: interactions[0]: an interaction is a pair of two different variables"),
    ({"interactions": "casting*her2"}, "spec: interactions: expected a list of pairs"),
    ({"validation": {"bootstrap": -1}}, "spec: validation.bootstrap: expected a whole number >= 0, got -1"),
    ({"validation": {"boostrap": 10}}, "spec: validation: unknown key 'boostrap' (did you mean 'bootstrap'?)"),
    ({"missing": {"method": "mice"}}, "spec: missing.method: 'mice' is not one of complete_case, multiple_imputation"),
    ({"missing": {"method": "multiple_imputation", "m": 1}}, "spec: missing.m: expected a whole number >= 2, got 1"),
    ({"competing": {"column": "death_cause", "codes": {1: "bc"}, "of_interest": "bc"}}, "spec: competing.codes: map at least two codes"),
    ({"competing": {"column": "death_cause", "codes": {1: "bc", 2: "other"}, "of_interest": "breast"}},
     "spec: competing.of_interest: 'breast' is not one of bc, other"),
    ({"competing": {"codes": {1: "bc", 2: "other"}, "of_interest": "bc"}}, "spec: competing: `column` is required"),
    ({"km": {"by": "casting", "conf_type": "loglog"}}, "spec: km.conf_type: 'loglog' is not one of log-log, log, plain"),
    ({"km": {"by": "casting", "weights": {"rho": -1}}}, "spec: km.weights: rho and gamma must be >= 0"),
    ({"km": {"by": "casting", "weights": {"p": 1}}}, "spec: km.weights: unknown key 'p'"),
])
def test_malformed_options_name_the_key(keys, message):
    with pytest.raises(SpecError) as info:
        parse_spec(with_keys(**keys))
    assert message in str(info.value)


# --- issue 9, defects 15 and 17: non-finite numbers and unbounded work -------------------------

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(("keys", "message"), [
    ({"validation": {"times": [NAN]}}, "spec: validation.times[0]: expected a finite positive number, got nan"),
    ({"validation": {"times": [5, INF]}}, "spec: validation.times[1]: expected a finite positive number, got inf"),
    ({"validation": {"times": [5, 5]}}, "spec: validation.times: a time is listed twice"),
    ({"validation": {"times": [10**400]}}, "spec: validation.times[0]: expected a finite positive number, got 1000"),
    ({"competing": {"column": "death_cause", "codes": {10**400: "bc", 2: "other"}, "of_interest": "bc"}},
     "spec: competing.codes: code 1000"),
    ({"validation": {"times": list(range(1, 52))}}, "spec: validation.times: 51 times is more than the maximum, 50"),
    ({"km": {"by": "casting", "weights": {"rho": INF}}}, "spec: km.weights.rho: expected a finite number, got inf"),
    ({"km": {"by": "casting", "weights": {"gamma": NAN}}}, "spec: km.weights.gamma: expected a finite number, got nan"),
    ({"km": {"by": "casting", "weights": {"rho": 1e6}}}, "spec: km.weights.rho: expected a number at most 10"),
    ({"validation": {"bootstrap": 1_000_000_000}},
     "spec: validation.bootstrap: 1,000,000,000 is more than the maximum, 10,000"),
    ({"validation": {"seed": 10**30}}, "spec: validation.seed: 1,000,000,000,000,000,000,000,000,000,000 is more"),
    ({"validation": {"groups": 10**6}}, "spec: validation.groups: 1,000,000 is more than the maximum, 50"),
    ({"validation": {"bootstrap": INF}}, "spec: validation.bootstrap: expected a whole number >= 0, got inf"),
    ({"missing": {"method": "multiple_imputation", "m": 10**9}}, "spec: missing.m: 1,000,000,000 is more than the maximum, 200"),
    ({"missing": {"method": "multiple_imputation", "m": NAN}}, "spec: missing.m: expected a whole number >= 2, got nan"),
    ({"missing": {"iterations": 10**9}}, "spec: missing.iterations: 1,000,000,000 is more than the maximum, 100"),
    ({"missing": {"seed": -1}}, "spec: missing.seed: expected a whole number >= 0, got -1"),
    ({"competing": {"column": "death_cause", "codes": {NAN: "bc", 2: "other"}, "of_interest": "bc"}},
     "spec: competing.codes: code nan is not a finite number"),
    ({"competing": {"column": "death_cause", "codes": {1: "bc", "1": "other"}, "of_interest": "bc"}},
     "spec: competing.codes: code '1' is given twice"),
])
def test_non_finite_and_unbounded_numbers_are_refused_by_key(keys, message):
    with pytest.raises(SpecError) as info:
        parse_spec(with_keys(**keys))
    assert message in str(info.value)


def test_the_maxima_themselves_are_accepted():
    options = parse_spec(with_keys(validation={"bootstrap": 10_000, "seed": 2**32 - 1, "times": list(range(1, 51)),
                                               "groups": 50},
                                   missing={"method": "multiple_imputation", "m": 200, "iterations": 100})).options
    assert options.validation.bootstrap == 10_000 and len(options.validation.times) == 50
    assert options.missing.m == 200


def test_a_nan_validation_time_in_yaml_fails_at_load_not_after_the_analysis(tmp_path):
    from prognosis.spec import load_spec

    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(MINIMAL, sort_keys=False) + "validation: {times: [5, .nan]}\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"study.yaml: validation.times\[1\]: expected a finite positive number, got nan"):
        load_spec(path)


# --- issue 9, defect 16: the documented default bootstrap: 0 works ---------------------------


def test_validation_without_bootstrap_runs_through_prognosis_run(make_study, tmp_path):
    """`validation: {times: [...]}` used to fail with "B must be at least 1, not 0", the documented default."""
    import json

    from typer.testing import CliRunner

    from prognosis.cli import app

    study = make_study()
    study.spec["validation"] = {"times": [2]}
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["run", str(study.save_spec()), "--out", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    import jsonschema

    from prognosis.analysis.result import results_schema

    jsonschema.validate(document, results_schema(), cls=jsonschema.Draft202012Validator)
    validation = document["validation"]
    boot = validation["bootstrap"]
    assert boot["B"] == 0 and boot["n_successful"] == 0
    # no resample, so no optimism: apparent only, the corrected values are null (not 0, not the apparent)
    assert boot["c_apparent"] == validation["harrell_c"]
    assert boot["c_optimism"] is None and boot["c_corrected"] is None and boot["slope_corrected"] is None
    assert boot["slope_apparent"] == 1.0
    import re

    html = re.sub(r"base64,[A-Za-z0-9+/=]+", "", (out / "report.html").read_text(encoding="utf-8"))
    assert not re.search(r"\bnan\b", html)
    assert "not estimated (validation.bootstrap: 0)" in html
