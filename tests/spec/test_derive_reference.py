"""GBSG2 with derived variables and a population filter through `prognosis run`, against R.

Reference: tests/fixtures/derive/make_reference.R (R 4.2.2, survival 3.5.3) derives grade3,
nodes4, age10, lpgr and high_risk in base R, subsets tsize <= 50 and fits coxph (efron).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from prognosis.cli import app

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "derive"


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((FIXTURE / "reference.json").read_text())


def _run(tmp_path: Path, **changes) -> dict:
    spec = yaml.safe_load((FIXTURE / "spec.yaml").read_text())
    spec["tables"][0].update(path=str(FIXTURE.parent / "gbsg2" / "gbsg2.csv"),
                             dictionary=str(FIXTURE.parent / "gbsg2" / "gbsg2.yaml"))
    spec.update(changes)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out"), "--no-progress"])
    assert result.exit_code == 0, result.output
    return json.loads((tmp_path / "out" / "results.json").read_text())


@pytest.fixture(scope="module")
def document(tmp_path_factory) -> dict:
    return _run(tmp_path_factory.mktemp("derive"))


def _check_model(model: dict, expected: dict) -> None:
    terms = model["terms"]
    assert list(terms) == expected["terms"]
    # survival::coxph(Surv(time, cens) ~ ..., ties = "efron") on the derived subset; rtol 1e-6
    assert_allclose([terms[t]["coef"] for t in expected["terms"]], expected["coef"], rtol=1e-6)
    assert_allclose([terms[t]["se"] for t in expected["terms"]], expected["se"], rtol=1e-6)
    assert_allclose(model["log_likelihood"], expected["loglik"], rtol=1e-9)


def test_adjusted_hazard_ratios_equal_r_coxph(document, reference):
    expected = reference["grade3"]
    _check_model(document["cox"]["adjusted"], expected)
    assert (document["n"], document["events"]) == (expected["n"], expected["events"])


def test_binary_expression_marker_equals_r(tmp_path, reference):
    document = _run(tmp_path, marker="high_risk", covariates=["age10", "horTh"], km={"by": "high_risk"})
    _check_model(document["cox"]["adjusted"], reference["high_risk"])


def test_flow_counts_match_r_subset(document, reference):
    flow = {step["step"]: step for step in document["flow"]}
    step = flow["population: tsize <= 50"]
    assert (step["n_before"], step["excluded"], step["n_after"]) == (
        reference["n_read"], reference["excluded_by_population"], reference["n_population"])
    assert step["reason"] == "not tsize <= 50: 53"
    for name in ("grade3", "nodes4", "age10", "lpgr", "high_risk"):
        assert flow[f"derived {name}"]["excluded"] == 0
    assert document["n"] + sum(s["excluded"] for s in document["flow"]) == reference["n_read"]


def test_derive_and_population_are_in_provenance(document):
    provenance = document["provenance"]
    assert [d["name"] for d in provenance["derive"]] == ["grade3", "nodes4", "age10", "lpgr", "high_risk"]
    assert provenance["derive"][1] == {"name": "nodes4", "form": "cut", "label": "pnodes (grouped)",
                                       "from": "pnodes", "cut": [4.0], "levels": ["0-3", "4+"]}
    assert provenance["population"] == ["tsize <= 50"]
    assert document["variables"]["age10"]["label"] == "Age (per 10 years)"
    assert document["variables"]["grade3"]["table"] == "derive"
