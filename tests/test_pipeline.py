"""The whole path, spec -> results.json: against R on GBSG2, and recovering the demo's true HR."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from numpy.testing import assert_allclose

from prognosis.pipeline import run
from prognosis.report import write_report
from prognosis.results import results_schema
from prognosis.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
GBSG2 = ROOT / "tests" / "fixtures" / "gbsg2"


@pytest.fixture(scope="module")
def demo_output(demo_result, tmp_path_factory):
    spec = load_spec(ROOT / "analyses" / "demo.yaml")
    out = write_report(demo_result, tmp_path_factory.mktemp("reports") / "demo", description=spec.description)
    return demo_result, out, json.loads((out / "results.json").read_text())


@pytest.fixture(scope="module")
def r_reference():
    """survival::survfit / survdiff / coxph on gbsg2.csv (make_reference.R; R 4.2.2, survival 3.5.3)."""
    return json.loads((GBSG2 / "reference.json").read_text())


@pytest.fixture(scope="module")
def gbsg2_results():
    return run(load_spec(GBSG2 / "gbsg2_spec.yaml")).to_dict()


def test_demo_results_validate_against_the_schema(demo_output):
    _, _, document = demo_output
    jsonschema.validate(document, results_schema(), cls=jsonschema.Draft202012Validator)


def test_schema_rejects_a_document_missing_a_contract_key(demo_output):
    _, _, document = demo_output
    broken = {k: v for k, v in document.items() if k != "added_value"}
    with pytest.raises(jsonschema.ValidationError, match="added_value"):
        jsonschema.validate(broken, results_schema(), cls=jsonschema.Draft202012Validator)


def test_demo_recovers_the_true_adjusted_hazard_ratio(demo_output):
    _, _, document = demo_output
    truth = json.loads((ROOT / "data" / "demo" / "truth.json").read_text())
    true_hr = truth["hazard_ratios"]["casting[yes]"]
    term = document["cox"]["adjusted"]["terms"]["casting[yes]"]
    assert term["lower"] < true_hr < term["upper"]
    # Confounding by grade, nodes and HER2 is built in: the crude HR is larger than the adjusted one.
    assert document["cox"]["unadjusted"]["terms"]["casting[yes]"]["hazard_ratio"] > term["hazard_ratio"]


def test_demo_flow_accounts_for_every_patient(demo_output):
    result, _, document = demo_output
    read = document["flow"][0]["n_before"]
    assert read == 2000
    assert document["n"] + sum(step["excluded"] for step in document["flow"]) == read
    for before, after in zip(document["flow"], document["flow"][1:]):
        assert before["n_after"] == after["n_before"]
    assert document["n"] == result.n == sum(g["n"] for g in document["km"]["groups"].values())


def test_demo_writes_report_and_figures(demo_output):
    _, out, document = demo_output
    assert (out / "report.html").stat().st_size > 10_000
    assert (out / "figures" / "km.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(document["km"]["groups"]) == {"no", "yes"}
    assert [s["time"] for s in document["km"]["groups"]["yes"]["survival"]] == [5.0, 10.0]
    inputs = document["provenance"]["inputs"]
    assert set(inputs) == {"clinical", "pathology", "imaging"}
    assert inputs["clinical"]["rows"] == 2000 and inputs["clinical"]["path"] == "../data/demo/clinical.csv"


def test_gbsg2_results_json_matches_r(gbsg2_results, r_reference):
    # The same numbers as tests/stats, but read back from results.json: nothing lost in serialising.
    document = gbsg2_results
    for group in ("no", "yes"):
        expected = r_reference["km"][group]
        got = document["km"]["groups"][group]
        assert_allclose([s["estimate"] for s in got["survival"]], expected["at_times"]["surv"], rtol=1e-6)
        assert_allclose([s["lower"] for s in got["survival"]], expected["at_times"]["lower"], rtol=1e-6)
        assert got["median"]["estimate"] == expected["median"]["estimate"]
    assert_allclose(document["km"]["logrank"]["statistic"], r_reference["logrank"]["horTh"]["chisq"], rtol=1e-8)
    for model in ("unadjusted", "adjusted"):
        for term, ref in r_reference["cox"][model]["terms"].items():
            got = document["cox"][model]["terms"][term]
            assert_allclose([got["hazard_ratio"], got["lower"], got["upper"]],
                            [ref["hazard_ratio"], ref["lower"], ref["upper"]], rtol=1e-6, err_msg=term)
            assert_allclose(got["p"], ref["p"], rtol=1e-5, err_msg=term)
    assert_allclose(document["cox"]["adjusted"]["concordance"],
                    r_reference["cox"]["adjusted"]["concordance"]["concordance"], rtol=1e-8)
    assert_allclose(document["added_value"]["lrt_statistic"], r_reference["cox"]["lrt_marker"]["statistic"], rtol=1e-6)
    assert_allclose(document["added_value"]["p"], r_reference["cox"]["lrt_marker"]["p"], rtol=1e-5)


# --- the statistical-core sections, as the demo spec asks for them -----------------------------


def test_demo_ph_test_is_keyed_by_variable(demo_output):
    _, _, document = demo_output
    ph = document["ph_test"]
    assert set(ph["terms"]) == {"casting", "age", "size_cat", "grade", "nodes", "er", "her2"}
    assert ph["terms"]["grade"]["df"] == 2 and ph["terms"]["casting"]["df"] == 1
    assert ph["global"]["df"] == len(document["cox"]["adjusted"]["terms"])
    # The simulator's hazards are proportional by construction.
    assert ph["global"]["p"] > 0.01


def test_demo_competing_risks(demo_output):
    _, _, document = demo_output
    competing = document["competing"]
    assert competing["cause_of_interest"] == "breast_cancer" and competing["competing_causes"] == ["other"]
    cif = competing["cif"]
    assert [p["time"] for p in cif["yes"]["cumulative_incidence"]] == [5.0, 10.0]
    # Breast-cancer death is commoner with casting, so its cumulative incidence is higher.
    assert cif["yes"]["cumulative_incidence"][1]["estimate"] > cif["no"]["cumulative_incidence"][1]["estimate"]
    assert competing["gray_test"]["p"] < 0.001
    assert set(competing["fine_gray"]["terms"]) == set(document["cox"]["adjusted"]["terms"])
    # Cause-specific Cox on the same patients is the adjusted Cox model of bc_death.
    assert competing["cause_specific"]["terms"]["casting[yes]"]["hazard_ratio"] == pytest.approx(
        document["cox"]["adjusted"]["terms"]["casting[yes]"]["hazard_ratio"], rel=1e-9)
    assert competing["excluded_unknown_cause"] == 0


def test_demo_validation(demo_output):
    _, _, document = demo_output
    validation = document["validation"]
    assert validation["harrell_c"] == pytest.approx(document["cox"]["adjusted"]["concordance"], rel=1e-9)
    assert validation["times"] == [5.0]  # 10 years is the horizon: nobody is followed beyond it
    boot = validation["bootstrap"]
    assert boot["B"] == 200 and boot["seed"] == 1
    assert 0 < boot["c_optimism"] < 0.05 and boot["c_corrected"] < boot["c_apparent"]
    assert any("validation at 10 years was left out" in w for w in document["warnings"])


def test_demo_subgroups_and_associations(demo_output):
    _, _, document = demo_output
    subgroups = document["subgroups"]["subgroups"]
    assert set(subgroups) == {"her2", "er", "grade"}
    assert set(subgroups["her2"]["levels"]) == {"negative", "positive"}
    assert 0 <= subgroups["her2"]["interaction_p"] <= 1
    factors = document["associations"]["factors"]
    grade3 = factors["grade"]["odds_ratios"]["grade[3]"]
    assert grade3["lower"] > 3  # the simulator's true OR of grade 3 given casting is 7
    assert factors["grade"]["adjusted_for"] == ["age"]


def test_demo_multiple_imputation_and_table1(demo_output):
    result, _, document = demo_output
    imputation = document["imputation"]
    assert imputation["m"] == 10 and imputation["n"] == 2000  # every patient, none excluded for missing values
    assert imputation["missing"]["her2"] == 70
    term = imputation["terms"]["casting[yes]"]
    assert term["lower"] < 2.0 < term["upper"]
    table1 = document["table1"]
    assert table1["by"] == "casting" and table1["groups"] == ["no", "yes"]
    assert {row["variable"] for row in table1["rows"]} >= {"age", "grade", "her2", "extent"}


def test_demo_group_tests_and_followup(demo_output):
    _, _, document = demo_output
    stratified = document["km"]["stratified_logrank"]
    assert [s["stratum"] for s in stratified["strata"]] == ["1", "2", "3"] and stratified["by"] == ["grade"]
    # Within grade strata the casting effect shrinks but remains.
    assert 0 < stratified["statistic"] < document["km"]["logrank"]["statistic"]
    assert document["km"]["pairwise"] is None  # two groups: nothing to compare pairwise
    weighted = document["km"]["weighted_logrank"]
    assert (weighted["rho"], weighted["gamma"]) == (1.0, 0.0) and weighted["p"] < 0.001
    assert 7 < document["followup"]["median"] < 10


# --- Cox options through the spec, against R (tests/fixtures/cox_extensions/make_reference.R) ---


def _gbsg2_spec_with(tmp_path, **keys):
    import yaml

    spec = yaml.safe_load((GBSG2 / "gbsg2_spec.yaml").read_text())
    spec["tables"][0].update(path=str(GBSG2 / "gbsg2.csv"), dictionary=str(GBSG2 / "gbsg2.yaml"))
    spec.update(keys)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return load_spec(path)


@pytest.mark.parametrize(("model", "keys"), [
    # coxph(Surv(time, cens) ~ horTh + age + pnodes + strata(menostat), robust = TRUE)
    ("robust_strata", {"covariates": ["age", "pnodes"], "strata": ["menostat"], "robust": True}),
    # coxph(Surv(time, cens) ~ horTh * tgrade + age)
    ("interaction_cat_3", {"covariates": ["tgrade", "age"], "interactions": [["horTh", "tgrade"]]}),
])
def test_spec_cox_options_match_coxph(tmp_path, model, keys):
    reference = json.loads((ROOT / "tests" / "fixtures" / "cox_extensions" / "reference.json").read_text())
    expected = reference["cox"][model]
    document = run(_gbsg2_spec_with(tmp_path, ph_test=False, **keys), progress=False).to_dict()
    terms = document["cox"]["adjusted"]["terms"]
    assert set(terms) == set(expected["terms"])
    for term, ref in expected["terms"].items():
        assert_allclose([terms[term]["coef"], terms[term]["se"], terms[term]["p"]],
                        [ref["coef"], ref["se"], ref["p"]], rtol=1e-5, err_msg=term)
        if ref["robust_se"] is not None:
            assert_allclose(terms[term]["robust_se"], ref["robust_se"], rtol=1e-6, err_msg=term)
    assert_allclose(document["cox"]["adjusted"]["log_likelihood"], expected["loglik"], rtol=1e-9)
