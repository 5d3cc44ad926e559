"""prognosis.stats.cox and compare against R survival::coxph on GBSG2, through the real cohort path."""

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from prognosis.cohort import assemble_cohort, read_table
from prognosis.errors import ModelError
from prognosis.spec import load_spec
from prognosis.stats import compare_models, design_matrix, fit_cox

SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "gbsg2" / "gbsg2_spec.yaml"
RTOL = 1e-6


@pytest.fixture(scope="module")
def cohort():
    spec = load_spec(SPEC)
    tables = [read_table(t.name, t.path, t.dictionary) for t in spec.tables]
    return assemble_cohort(tables, spec.join, spec.endpoint, spec.model_variables)


@pytest.fixture(scope="module")
def comparison(cohort):
    return compare_models(cohort, "horTh", ("age", "menostat", "tsize", "tgrade", "pnodes", "progrec", "estrec"))


def _check_model(result, expected):
    assert list(result.terms) == expected["term_order"]
    for i, term in enumerate(result.terms):
        ref = expected["terms"][term]
        assert_allclose(result.coef[i], ref["coef"], rtol=RTOL, err_msg=term)
        assert_allclose(result.se[i], ref["se"], rtol=RTOL, err_msg=term)
        assert_allclose(result.hazard_ratio[i], ref["hazard_ratio"], rtol=RTOL, err_msg=term)
        assert_allclose(result.conf_int[i], [ref["lower"], ref["upper"]], rtol=RTOL, err_msg=term)
        assert_allclose(result.p_value[i], ref["p"], rtol=1e-5, err_msg=term)
    assert_allclose(result.log_likelihood, expected["loglik"], rtol=1e-10)
    assert_allclose(result.log_likelihood_null, expected["loglik_null"], rtol=1e-10)
    assert_allclose(result.concordance, expected["concordance"]["concordance"], rtol=1e-8)
    assert result.n == expected["n"] and result.n_events == expected["nevent"]


@pytest.mark.parametrize("model", ["unadjusted", "adjusted", "base"])
def test_efron_models_match_coxph(comparison, r_reference, model):
    # coxph(Surv(time, cens) ~ ..., ties = "efron"); formulas in reference.json["meta"]["models"]
    _check_model(getattr(comparison, model), r_reference["cox"][model])


def test_breslow_matches_coxph(cohort, r_reference):
    # coxph(..., ties = "breslow")
    variables = [cohort.variables[v] for v in ("horTh", "age", "menostat", "tsize", "tgrade", "pnodes", "progrec", "estrec")]
    result = fit_cox(cohort.time, cohort.event, design_matrix(cohort.data, variables), ties="breslow")
    _check_model(result, r_reference["cox"]["adjusted_breslow"])


def test_likelihood_ratio_test_of_the_marker(comparison, r_reference):
    # 2 * (loglik(adjusted) - loglik(base)), df 1
    expected = r_reference["cox"]["lrt_marker"]
    assert_allclose(comparison.added_value.lrt_statistic, expected["statistic"], rtol=1e-6)
    assert_allclose(comparison.added_value.p, expected["p"], rtol=1e-5)
    assert comparison.added_value.df == expected["df"]
    assert_allclose(comparison.added_value.c_base, r_reference["cox"]["base"]["concordance"]["concordance"], rtol=1e-8)


def test_term_names_follow_the_contract(comparison):
    assert comparison.adjusted.terms[:3] == ("horTh[yes]", "age", "menostat[Pre]")
    assert "tgrade[III]" in comparison.adjusted.terms and "tgrade[I]" not in comparison.adjusted.terms


def test_empty_design_is_the_null_model(comparison, cohort):
    null = fit_cox(cohort.time, cohort.event, design_matrix(cohort.data, []))
    assert null.terms == () and null.concordance == 0.5
    assert_allclose(null.log_likelihood, comparison.adjusted.log_likelihood_null)


def test_separation_names_the_term(cohort):
    data = cohort.data.copy()
    # No event at all among horTh = yes: the likelihood rises forever as its HR goes to 0.
    event = np.where(data["horTh"] == "yes", 0.0, cohort.event)
    design = design_matrix(data, [cohort.variables["horTh"]])
    with pytest.raises(ModelError, match=r"horTh\[yes\].*monotone likelihood"):
        fit_cox(cohort.time, event, design)


def test_constant_covariate_is_named(cohort):
    data = cohort.data.assign(age=50.0)
    with pytest.raises(ModelError, match="age"):
        design_matrix(data, [cohort.variables["age"]])
