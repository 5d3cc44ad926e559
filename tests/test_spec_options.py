"""Tests of prognosis/spec_options.py: the statistical-core keys of the analysis spec."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from prognosis.errors import SpecError
from prognosis.spec import parse_spec
from prognosis.spec_options import AnalysisOptions, CompetingSpec, MissingSpec, ValidationSpec

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
