"""Raw exceptions from the statistics, reached from a spec (issue 9, defects 1 and 14).

Each case runs ``prognosis run`` (typer's CliRunner) or :func:`prognosis.analysis.pipeline.run` on the
small study of tests/conftest.py, changed in one place, and asserts either a named error (exit 1,
a message naming the spec key) or the result R gives. R references for the statistics themselves
are in tests/stats/test_logrank_empty.py, tests/stats/test_pooling_edges.py and
tests/stats/test_discrimination_edges.py.
"""

from __future__ import annotations

import json
import warnings

import jsonschema
import numpy as np
import pytest
from typer.testing import CliRunner

from prognosis.cli import app
from prognosis.analysis.pipeline import run
from prognosis.analysis.result import results_schema
from prognosis.spec import load_spec
from prognosis.stats.logrank import logrank_test


def run_cli(study, tmp_path):
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["run", str(study.save_spec()), "--out", str(out)])
    return result, out


def assert_named_error(result, *fragments):
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.startswith("error: ")
    for fragment in fragments:
        assert fragment in result.stderr


def run_quietly(study):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run(load_spec(study.save_spec()), progress=False)


# --- km.by and km.strata must be categorical -------------------------------------------------


def test_km_by_a_numeric_variable_is_a_spec_error(study, tmp_path):
    study.spec["km"] = {"by": "age"}
    result, out = run_cli(study, tmp_path)
    assert_named_error(result, "study.yaml: km.by must be a categorical or binary variable; age is numeric",
                       "derive a grouped version")
    assert not out.exists()


def test_km_by_defaulting_to_a_numeric_marker_says_so(study, tmp_path):
    study.spec["marker"] = {"name": "n_calcifications"}
    study.spec["km"] = {"times": [1]}
    result, _ = run_cli(study, tmp_path)
    assert_named_error(result, "km.by must be a categorical or binary variable (km.by defaults to the marker); "
                               "n_calcifications is numeric")


@pytest.mark.parametrize("column, message", [
    # a date is refused in every role before the cohort is built (it would print patients' dates)
    ("last_contact_date", "km.strata: 'last_contact_date' is declared as date, and a date cannot be a stratum"),
    ("age", "km.strata: a stratum must be a categorical or binary variable; age is numeric"),
])
def test_km_strata_must_be_categorical(study, tmp_path, column, message):
    study.spec["km"] = {"by": "casting", "strata": [column]}
    result, _ = run_cli(study, tmp_path)
    assert_named_error(result, message)


@pytest.mark.parametrize("column, message", [
    ("last_contact_date", "study.yaml: strata: 'last_contact_date' is declared as date, and a date cannot be a stratum"),
    ("age", "study.yaml: strata: a stratum must be a categorical or binary variable; age is numeric"),
])
def test_cox_strata_must_be_categorical(study, tmp_path, column, message):
    # Top-level strata (Cox strata(), the stratified log-rank of the models): a date column gave a
    # ModelError suggesting collinear terms. Now a SpecError naming the key, like km.strata.
    study.spec["strata"] = [column]
    result, out = run_cli(study, tmp_path)
    assert_named_error(result, message)
    assert "collinear" not in result.stderr and not out.exists()


def test_km_strata_including_km_by_is_a_spec_error(study, tmp_path):
    # R survdiff(~ casting + strata(casting)): every group alone in its stratum, V = 0, solve() fails.
    study.spec["km"] = {"by": "casting", "strata": ["grade", "casting"]}
    result, _ = run_cli(study, tmp_path)
    assert_named_error(result, "km.strata: casting is km.by itself")


def test_km_strata_with_a_one_patient_stratum_runs(study):
    # A stratum of one patient adds nothing to O - E or V (survdiff: nrisk > 1 for the variance);
    # the stratified test is then the test on the other stratum alone, computed by hand here as
    # the plain log-rank on those patients.
    for row in range(2, 42):
        study.set_cell("pathology", row, "er", "1")
    study.set_cell("pathology", 2, "er", "0")   # P01, censored: the only ER-negative patient
    study.spec["km"] = {"by": "casting", "strata": ["er"]}
    result = run_quietly(study)
    stratified = result.group_tests.stratified
    data = study.read("clinical").merge(study.read("imaging"), on="patient_id").iloc[1:]
    alone = logrank_test(data.followup_days.astype(float).to_numpy() / 365.25, data.bc_death.astype(int).to_numpy(),
                         data.casting.to_numpy())
    assert stratified.df == 1 and [s.n for s in stratified.strata] == [1, 39]
    assert stratified.statistic == pytest.approx(alone.statistic, rel=1e-10)


def test_km_by_with_one_level_left_is_a_named_error(study, tmp_path):
    for row in range(2, 42):
        study.set_cell("pathology", row, "er", "1")
    study.spec["km"] = {"by": "er"}
    result, _ = run_cli(study, tmp_path)
    assert_named_error(result, "er has only one level ('positive')")


# --- a group with no expected events (defect 1) ---------------------------------------------


def _site_with_an_empty_level(study, others):
    """A categorical ``site``: level "c" for three patients all censored before the first event
    (201 days), ``others`` (a list, cycled) for the rest."""
    study.edit_dictionary("imaging", lambda d: d["columns"].update(
        {"site": {"type": "categorical", "levels": ["a", "b", "c"]}}))
    imaging = study.read("imaging")
    imaging["site"] = [others[i % len(others)] for i in range(40)]
    study.write("imaging", imaging)
    for row, days in [(2, "50"), (3, "60"), (6, "70")]:   # P01, P02, P05: not events
        study.set_cell("clinical", row, "followup_days", days)
        study.set_cell("imaging", row, "site", "c")


def test_km_by_two_groups_one_without_expected_events_has_no_test(study, tmp_path):
    # survdiff: sum(exp > 0) < 2, so chisq 0; df 0 and no p (null), and results.json still
    # follows its schema.
    _site_with_an_empty_level(study, ["a"])
    study.spec["km"] = {"by": "site", "strata": ["grade"], "weights": {"rho": 1}}
    result, out = run_cli(study, tmp_path)
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text())
    for key in ("logrank", "stratified_logrank", "weighted_logrank"):
        assert (document["km"][key]["statistic"], document["km"][key]["df"], document["km"][key]["p"]) == (0.0, 0, None)
    jsonschema.validate(document, results_schema(), cls=jsonschema.Draft202012Validator)


def test_km_by_a_group_with_no_expected_events(study, tmp_path):
    # Three patients of a level "c", all censored before the first event (201 days): they are in
    # no risk set at an event time, so they change neither O, E nor V, and survdiff drops the
    # group: the test is the two-group test without them, on 1 df (R: see test_logrank_empty.py).
    _site_with_an_empty_level(study, ["a", "b"])
    study.spec["km"] = {"by": "site", "strata": ["grade"]}
    result, out = run_cli(study, tmp_path)
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text())
    logrank = document["km"]["logrank"]
    data = study.read("clinical").merge(study.read("imaging"), on="patient_id")
    two = data[data.site != "c"]
    expected = logrank_test(two.followup_days.astype(float).to_numpy(), two.bc_death.astype(int).to_numpy(),
                            two.site.to_numpy())
    assert logrank["df"] == 1
    assert logrank["statistic"] == pytest.approx(expected.statistic, rel=1e-10)
    tests = document["km"]
    assert tests["stratified_logrank"]["df"] == 1
    assert [c["p"] is None for c in tests["pairwise"]["comparisons"]] == [False, True, True]
    assert tests["trend"]["df"] == 1


# --- competing risks with km.by the event itself (a group with no events) --------------------


def _with_competing_deaths(study):
    """death_cause 1 (breast cancer) for the bc deaths, 2 (other) for three more deaths."""
    study.edit_dictionary("clinical", lambda d: d["columns"].update(
        {"death_cause": {"type": "categorical", "levels": [0, 1, 2]}}))
    clinical = study.read("clinical")
    clinical["death_cause"] = np.where(clinical.bc_death == "1", "1", "0")
    for row in (6, 14, 28):   # P05, P13, P27: died of another cause
        clinical.loc[row - 2, ["death", "death_cause"]] = ["1", "2"]
    study.write("clinical", clinical)
    study.spec["competing"] = {"column": "death_cause", "codes": {1: "breast_cancer", 2: "other"},
                               "of_interest": "breast_cancer"}


def test_km_by_the_death_column_with_competing_risks(study, tmp_path):
    # km.by = death: the group death = 0 has no event of any cause. R cmprsk::cuminc gives that
    # group a cumulative incidence of 0 within its follow-up (by definition: no event), and the
    # Kaplan–Meier curve stays at 1.
    _with_competing_deaths(study)
    study.spec["km"] = {"by": "death", "times": [1, 2]}
    result, out = run_cli(study, tmp_path)
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text())
    alive = document["competing"]["cif"]["0"]
    assert alive["events"] == 0
    assert [a["estimate"] for a in alive["cumulative_incidence"]] == [0.0, 0.0]
    assert [a["estimate"] for a in document["competing"]["competing_cif"]["other"]["0"]["cumulative_incidence"]] \
        == [0.0, 0.0]
    assert [s["estimate"] for s in document["km"]["groups"]["0"]["survival"]] == [1.0, 1.0]


# --- multiple imputation when nothing is missing -----------------------------------------------


def test_multiple_imputation_with_no_missing_value(study, tmp_path):
    # Every imputation is the observed data: B = 0, r = 0, and mice / mitml give D1 an infinite
    # denominator df (tests/fixtures/pooling_edges), so D1 is the complete-data Wald chi-square
    # divided by k; with one marker term its p is the Cox Wald p of the marker.
    study.spec["missing"] = {"method": "multiple_imputation", "m": 2, "seed": 1}
    result, out = run_cli(study, tmp_path)
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text())
    d1 = document["imputation"]["marker_test"]["D1"]
    assert d1["df1"] == 1 and d1["df2"] is None
    assert d1["p"] == pytest.approx(document["cox"]["adjusted"]["terms"]["casting[yes]"]["p"], rel=1e-8)


# --- validation at a time before the first event ------------------------------------------------


def _no_event_before_352_days(study):
    # P33 (201 days, the shortest follow-up) censored: the first event is then at 352 days.
    for column in ("bc_death", "death"):
        study.set_cell("clinical", 34, column, "0")


def test_validation_auc_before_any_event_is_null_with_a_note(study, tmp_path):
    # At 0.6 years no event has happened: the AUC there has no case (R's timeROC gives NA), so
    # it is null with a note; the rest of the validation is delivered.
    _no_event_before_352_days(study)
    study.spec["validation"] = {"times": [0.6, 2], "bootstrap": 5, "seed": 1}
    result, out = run_cli(study, tmp_path)
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text())
    validation = document["validation"]
    assert validation["auc"][0] is None and 0 < validation["auc"][1] < 1
    assert 0 < validation["harrell_c"] < 1 and 0 < validation["uno_c"] < 1
    assert any(w.startswith("the time-dependent AUC at 0.6 is undefined") for w in document["warnings"])


def test_validation_with_every_time_before_any_event_is_no_traceback(study, tmp_path):
    # Uno's C truncated at 0.6 has no comparable pair (R: concordance(ymax = 0.6, timewt = "n/G2")
    # is NaN, tests/fixtures/discrimination_edges); scikit-survival raised "all samples are
    # censored". Now: a result with uno_c null and a note, or a named error from a later step
    # (calibration at 0.6, where every predicted survival is 1), which leaves the validation section
    # not computed with its reason while the rest is delivered -- never a traceback.
    _no_event_before_352_days(study)
    study.spec["validation"] = {"times": [0.6], "bootstrap": 5, "seed": 1}
    result, out = run_cli(study, tmp_path)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if result.exit_code == 0:
        document = json.loads((out / "results.json").read_text())
        validation = document["validation"]
        if validation.get("status") == "not_computed":
            assert validation["reason"] and "validation" in document["sections_not_computed"][0]["section"]
            # The reason says which spec key to change (it named no key before).
            assert "validation.times" in validation["reason"]
        else:
            assert validation["uno_c"] is None
    else:
        assert result.exit_code == 1 and result.stderr.startswith("error: ")
