"""The whole path, spec -> results.json: against R on GBSG2, and recovering the demo's true HR."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from numpy.testing import assert_allclose

from prognosis.analysis.pipeline import run
from prognosis.report import write_report
from prognosis.analysis.result import results_schema
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


# --- optional sections that cannot be computed (issue 9, defect 3) -------------------------------

ALL_EVENTS = ROOT / "tests" / "fixtures" / "all_events"


def _validate(document):
    jsonschema.validate(document, results_schema(), cls=jsonschema.Draft202012Validator)


def _section_html(html: str, anchor: str) -> str:
    start = html.index(f'<section id="{anchor}">')
    return html[start:html.index("</section>", start)]


@pytest.fixture(scope="module")
def all_events_reference():
    """tests/fixtures/all_events/make_reference.R (R 4.2.2, survival 3.5.3)."""
    return json.loads((ALL_EVENTS / "reference.json").read_text())


def test_all_events_cohort_reports_null_followup_and_fits_the_rest(all_events_reference, tmp_path):
    # survival::lung, deaths only: survfit(Surv(time, 1 - status) ~ 1) median NA; coxph fits.
    expected = all_events_reference["all_events"]
    result = run(load_spec(ALL_EVENTS / "lung_dead_spec.yaml"), progress=False)
    out = write_report(result, tmp_path / "report")
    document = json.loads((out / "results.json").read_text())
    _validate(document)
    assert document["n"] == expected["n"] and document["events"] == expected["events"]
    followup = document["followup"]
    assert [followup["median"], followup["lower"], followup["upper"]] == [None, None, None]
    assert expected["followup"] == {"median": None, "lower": None, "upper": None}
    assert "every patient had the event" in followup["note"]
    # R's KM medians: 208.5 for men is survival's midpoint rule where S(t) = 0.5 exactly on a flat
    # (issue 9, defect 4); exact equality, as both are halves of integer days.
    assert {g: document["km"]["groups"][g]["median"]["estimate"] for g in expected["km_median"]} \
        == expected["km_median"] == {"male": 208.5, "female": 293}
    for model in ("adjusted", "unadjusted", "base"):
        for r_term, ref in expected["cox"][model]["terms"].items():
            got = document["cox"][model]["terms"]["sex[female]" if r_term == "sexfemale" else r_term]
            assert_allclose([got["coef"], got["se"], got["p"]], [ref["coef"], ref["se"], ref["p"]], rtol=1e-6)
        assert_allclose(document["cox"][model]["log_likelihood"], expected["cox"][model]["loglik"], rtol=1e-9)
    added = document["added_value"]
    assert added["df"] == expected["cox"]["lrt"]["df"]
    assert_allclose([added["lrt_statistic"], added["p"]], [expected["cox"]["lrt"]["statistic"],
                                                           expected["cox"]["lrt"]["p"]], rtol=1e-6)
    # cox.zph is defined here (events at many times): it is computed, as in R.
    assert_allclose(document["ph_test"]["global"]["chisq"], expected["zph_global"]["chisq"], rtol=1e-6)
    html = (out / "report.html").read_text()
    assert "Median follow-up is not reported: every patient had the event" in html


def test_all_tied_cohort_records_the_ph_test_as_not_computed(all_events_reference, tmp_path):
    # Every event on day 5: R cox.zph stops ("system is exactly singular"), coxph fits.
    expected = all_events_reference["all_tied"]
    assert "singular" in expected["zph_error"]
    result = run(load_spec(ALL_EVENTS / "tied_spec.yaml"), progress=False)
    out = write_report(result, tmp_path / "report")
    document = json.loads((out / "results.json").read_text())
    _validate(document)
    assert document["ph_test"]["status"] == "not_computed"
    assert "same time" in document["ph_test"]["reason"]
    assert document["sections_not_computed"] == [{"section": "ph_test", "reason": document["ph_test"]["reason"]}]
    for r_term, ref in expected["cox"]["adjusted"]["terms"].items():
        got = document["cox"]["adjusted"]["terms"]["x[yes]" if r_term == "xyes" else r_term]
        assert_allclose([got["coef"], got["se"]], [ref["coef"], ref["se"]], rtol=1e-6)
    html = (out / "report.html").read_text()
    assert document["ph_test"]["reason"].rstrip(".") in _section_html(html, "ph")
    assert "Not computed on this cohort" in _section_html(html, "ph")


# One study that asks for every documented optional key (README "The analysis spec"), small and fast.
EVERY_OPTION = {
    "ties": "breslow", "strata": ["er"], "robust": True, "interactions": [["casting", "age"]], "ph_test": True,
    "subgroups": ["grade"], "validation": {"bootstrap": 2, "seed": 1, "times": [1, 2]},
    "missing": {"method": "multiple_imputation", "m": 2, "seed": 1},
    "associations": {"factors": ["grade", "er", "size_mm"], "adjust_for": ["age"]},
    "competing": {"column": "death_cause", "codes": {1: "breast_cancer", 2: "other"}, "of_interest": "breast_cancer"},
    "table1": ["age", "grade", "size_mm"],
    "km": {"by": "casting", "times": [1, 2], "strata": ["grade"], "weights": {"rho": 1, "gamma": 0},
           "conf_type": "log-log"},
}

# results.json key of each optional section -> the key it is asked for by in EVERY_OPTION.
OPTIONAL_SECTIONS = ("followup", "ph_test", "validation", "subgroups", "competing", "imputation", "associations",
                     "table1")


@pytest.fixture
def every_option_study(study):
    clinical = study.read("clinical")
    # Cause 1 = the breast-cancer deaths; cause 2 for some others, in both casting groups; 0 = alive.
    clinical["death_cause"] = ["1" if event == "1" else ("2" if (i + 1) % 3 == 0 else "0")
                               for i, event in enumerate(clinical["bc_death"])]
    study.write("clinical", clinical)
    study.edit_dictionary("clinical", lambda d: d["columns"].update(
        death_cause={"type": "categorical", "levels": [0, 1, 2], "label": "Cause of death"}))
    study.set_cell("pathology", 6, "grade", "")  # something for the imputation to impute
    study.spec.update(EVERY_OPTION)
    study.save_spec()
    return study


def test_every_documented_option_writes_a_results_json_valid_against_the_schema(every_option_study):
    # The README's own `interactions:` wrote term names (casting[yes]:age) the schema refused.
    document = json.loads(run(load_spec(every_option_study.spec_path), progress=False).to_json())
    _validate(document)
    assert "casting[yes]:age" in document["cox"]["adjusted"]["terms"]
    for key in OPTIONAL_SECTIONS:
        assert document[key] is not None and "status" not in document[key], key
    for key in ("stratified_logrank", "weighted_logrank"):
        assert document["km"][key] is not None, key
    assert document["km"]["conf_type"] == "log-log" and document["sections_not_computed"] == []


@pytest.mark.parametrize(("section", "function", "anchor"), [
    ("ph_test", "proportional_hazards", "ph"), ("validation", "validation", "validation"),
    ("subgroups", "subgroups", "subgroups"), ("competing", "competing", "competing"),
    ("imputation", "imputation", "imputation"), ("associations", "associations_section", "associations"),
    ("table1", "table1", "table1"), ("followup", "followup", "flow"), ("group_tests", "group_tests", "km"),
])
def test_a_section_that_fails_is_recorded_and_the_rest_is_delivered(every_option_study, monkeypatch, tmp_path,
                                                                    section, function, anchor):
    from prognosis.analysis import sections
    from prognosis.errors import ModelError

    def fail(*args, **kwargs):
        raise ModelError(f"{section} made to fail by the test")

    monkeypatch.setattr(sections, function, fail)
    result = run(load_spec(every_option_study.spec_path), progress=False)
    out = write_report(result, tmp_path / "report")
    document = json.loads((out / "results.json").read_text())
    _validate(document)
    reason = f"{section} made to fail by the test"
    assert document["sections_not_computed"] == [{"section": section, "reason": reason}]
    where = document["km"]["group_tests"] if section == "group_tests" else document[section]
    assert where == {"status": "not_computed", "reason": reason}
    for key in OPTIONAL_SECTIONS:  # every other section is still there
        if key != section:
            assert document[key] is not None and "status" not in document[key], key
    assert document["cox"]["adjusted"]["terms"] and document["km"]["logrank"]["p"] is not None
    html = (out / "report.html").read_text()
    assert reason in _section_html(html, anchor)


# --- associations: what the adjusted odds ratios adjust for (issue 9, defect 9) -----------------

def _associations_reference():
    return json.loads((ROOT / "tests" / "fixtures" / "associations" / "reference.json").read_text())["complete"]


def test_associations_adjust_for_names_the_adjustment_and_matches_glm(tmp_path):
    # glm(horTh ~ factor + tsize + menostat, binomial) on GBSG2 (tests/fixtures/associations/make_reference.R)
    expected = _associations_reference()["adjusted_for_tsize_menostat"]
    spec = _gbsg2_spec_with(tmp_path, ph_test=False,
                            associations={"factors": ["tgrade", "pnodes"], "adjust_for": ["tsize", "menostat"]})
    result = run(spec, progress=False)
    out = write_report(result, tmp_path / "report")
    document = json.loads((out / "results.json").read_text())
    _validate(document)
    section = document["associations"]
    assert section["adjust_for"] == ["tsize", "menostat"] and "associations.adjust_for" in section["adjustment"]
    for factor, ref in expected.items():
        got = section["factors"][factor]
        assert got["adjusted_for"] == ref["adjust_for"] and got["n_adjusted"] == ref["n_adjusted"]
        for term, want in ref["adjusted_odds_ratios"].items():
            assert_allclose(got["adjusted_odds_ratios"][term]["odds_ratio"], want["odds_ratio"], rtol=1e-6)
    html = _section_html((out / "report.html").read_text(), "associations")
    assert "OR adjusted for tumour size, menopausal status" in html
    assert "Adjustment: for tsize, menostat (associations.adjust_for)" in html


def test_associations_bare_list_adjusts_for_age_and_says_so(tmp_path):
    expected = _associations_reference()["associations"]["tgrade"]
    spec = _gbsg2_spec_with(tmp_path, ph_test=False, associations=["tgrade"])
    document = run(spec, progress=False).to_dict()
    section = document["associations"]
    assert section["adjust_for"] == ["age"] and "column named age" in section["adjustment"]
    assert_allclose(section["factors"]["tgrade"]["adjusted_odds_ratios"]["tgrade[III]"]["odds_ratio"],
                    expected["adjusted_odds_ratios"]["tgrade[III]"]["odds_ratio"], rtol=1e-6)


def test_associations_without_an_age_column_say_nothing_was_adjusted(tmp_path):
    # Before: an empty "adjusted OR" column and no word on why.
    spec = _gbsg2_spec_with(tmp_path, ph_test=False, covariates=["tsize"], associations=["tgrade"])
    result = run(spec, progress=False)
    out = write_report(result, tmp_path / "report")
    section = json.loads((out / "results.json").read_text())["associations"]
    assert section["adjust_for"] == [] and section["factors"]["tgrade"]["adjusted_odds_ratios"] is None
    assert section["adjustment"].startswith("none")
    html = _section_html((out / "report.html").read_text(), "associations")
    assert "Adjusted OR" not in html and "OR adjusted for" not in html
    assert "no numeric column named age" in html


def test_associations_adjust_for_the_marker_is_a_spec_error(tmp_path):
    from prognosis.errors import SpecError

    spec = _gbsg2_spec_with(tmp_path, associations={"factors": ["tgrade"], "adjust_for": ["horTh"]})
    with pytest.raises(SpecError, match="adjust_for"):
        run(spec, progress=False)


# --- the marker's likelihood-ratio test counts its interaction terms (issue 9, planted bug) --------

@pytest.mark.parametrize(("key", "covariates", "partner"), [
    ("horTh_x_tgrade", ["tgrade", "age"], "tgrade"),
    ("horTh_x_menostat", ["menostat", "age"], "menostat"),
    ("horTh_x_age", ["age", "tgrade"], "age"),
])
def test_marker_lrt_with_interactions_matches_anova(tmp_path, key, covariates, partner):
    # anova(coxph(Surv(time, cens) ~ base), coxph(Surv(time, cens) ~ horTh * partner + ...))
    # (tests/fixtures/lrt_interactions/make_reference.R; R 4.2.2, survival 3.5.3)
    expected = json.loads((ROOT / "tests" / "fixtures" / "lrt_interactions" / "reference.json").read_text())[key]
    spec = _gbsg2_spec_with(tmp_path, ph_test=False, covariates=covariates, interactions=[["horTh", partner]])
    document = json.loads(run(spec, progress=False).to_json())
    _validate(document)  # categorical x categorical terms too (horTh[yes]:menostat[Pre], as the README's casting x her2)
    assert len(document["cox"]["adjusted"]["terms"]) == expected["n_terms_full"]
    assert len(document["cox"]["base"]["terms"]) == expected["n_terms_base"]
    added = document["added_value"]
    assert added["df"] == expected["df"]
    assert_allclose(added["lrt_statistic"], expected["statistic"], rtol=1e-6)
    assert_allclose(added["p"], expected["p"], rtol=1e-6)
    assert_allclose(document["cox"]["base"]["log_likelihood"], expected["loglik_base"], rtol=1e-9)


# --- an event exactly at the horizon is an event (issue 9, planted bug `>` vs `>=`) ----------------

def test_an_event_exactly_at_the_horizon_counts(study):
    # R: time = pmin(time, h); status = ifelse(time > h, 0, status); survfit(Surv(time, status) ~ casting)
    # (tests/fixtures/horizon/make_reference.R; R 4.2.2, survival 3.5.3). Patient P03's event is on
    # day 1000, the horizon itself; P04's is on day 1001.
    import pandas as pd

    fixture = ROOT / "tests" / "fixtures" / "horizon"
    expected = json.loads((fixture / "reference.json").read_text())
    data = pd.read_csv(fixture / "horizon.csv", dtype=str)
    clinical = study.read("clinical")
    assert list(clinical["patient_id"]) == list(data["patient_id"])
    assert list(study.read("imaging")["casting"]) == list(data["casting"])
    clinical["followup_days"], clinical["bc_death"] = data["followup_days"], data["bc_death"]
    study.write("clinical", clinical)
    horizon = expected["meta"]["horizon_days"]
    study.spec.update(endpoint={**study.spec["endpoint"], "unit": "days", "horizon": horizon},
                      km={"by": "casting", "times": [horizon]}, covariates=["age"], ph_test=False)
    document = run(load_spec(study.save_spec()), progress=False).to_dict()
    assert document["events"] == expected["events"]
    step = next(s for s in document["flow"] if s["step"].startswith("administrative censoring"))
    assert f"{expected['n_beyond_horizon']} followed beyond the horizon" in step["reason"]
    assert f"({expected['events_beyond_horizon']} of their events not counted)" in step["reason"]
    for group in ("no", "yes"):
        curve = document["km"]["groups"][group]
        assert curve["events"] == expected["events_by_group"][group]
        assert_allclose(curve["survival"][0]["estimate"], expected["survival_at_horizon"][group], rtol=1e-12)


@pytest.mark.parametrize(("value", "match"), [
    ({"adjust_for": ["age"]}, "factors"),
    ({"factors": ["tgrade"], "adjust": ["age"]}, "adjust"),
    ({"factors": ["tgrade"], "adjust_for": 3}, "associations.adjust_for"),
])
def test_associations_mapping_is_checked(tmp_path, value, match):
    from prognosis.errors import SpecError

    with pytest.raises(SpecError, match=match):
        _gbsg2_spec_with(tmp_path, associations=value)


def test_cli_run_says_which_section_was_not_computed(tmp_path):
    from typer.testing import CliRunner

    from prognosis.cli import app

    outcome = CliRunner().invoke(app, ["run", str(ALL_EVENTS / "tied_spec.yaml"), "--out", str(tmp_path / "out")])
    assert outcome.exit_code == 0, outcome.output
    assert "not computed: ph_test: every event happened at the same time" in outcome.output
    assert (tmp_path / "out" / "report.html").exists()


@pytest.mark.parametrize(("km", "validation", "reason"), [
    ({"by": "casting"}, {"bootstrap": 0}, "validation needs times"),
    ({"by": "casting", "times": [1]}, {"times": [50]}, "no validation time lies inside the follow-up"),
])
def test_validation_without_usable_times_is_recorded_as_not_computed(study, km, validation, reason):
    # Before: validation was null, as if it had not been asked for.
    study.spec.update(km=km, validation=validation)
    document = json.loads(run(load_spec(study.save_spec()), progress=False).to_json())
    _validate(document)
    assert document["validation"]["status"] == "not_computed" and reason in document["validation"]["reason"]
    assert document["ph_test"] is not None and "status" not in document["ph_test"]
