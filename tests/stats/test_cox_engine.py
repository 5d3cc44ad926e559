"""prognosis.stats.cox_engine against statsmodels' PHReg (an independent implementation)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from statsmodels.duration.hazard_regression import PHReg

from prognosis.stats.cox_engine import CoxFitError, newton_cox


def _data(seed: int, n: int = 400, p: int = 3):
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.normal(size=n), rng.integers(0, 2, n), rng.normal(size=n)])[:, :p]
    time = np.ceil(rng.exponential(np.exp(-(x @ np.array([0.5, -0.7, 0.2])[:p])) * 20))  # many ties
    event = (rng.uniform(size=n) < 0.7).astype(float)
    strata = rng.integers(0, 3, n)
    return time, event, x, strata


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("stratified", [False, True])
def test_matches_phreg(ties, stratified):
    time, event, x, strata = _data(1)
    strata = strata if stratified else None
    ours = newton_cox(time, event, x, ties=ties, strata=strata)
    theirs = PHReg(time, x, status=event, ties=ties, strata=strata).fit()
    assert_allclose(ours.coef, theirs.params, rtol=1e-7)
    assert_allclose(ours.log_likelihood, theirs.llf, rtol=1e-10)
    assert_allclose(np.linalg.inv(ours.information), theirs.cov_params(), rtol=1e-6)
    model = PHReg(time, x, status=event, ties=ties, strata=strata)
    assert_allclose(ours.log_likelihood_null, model.loglike(np.zeros(x.shape[1])), rtol=1e-10)


def test_null_model_has_no_coefficients():
    time, event, x, _ = _data(2)
    fit = newton_cox(time, event, np.zeros((time.size, 0)))
    assert fit.coef.size == 0 and fit.log_likelihood == fit.log_likelihood_null


def test_monotone_likelihood_is_reported_with_the_coefficients():
    time, event, x, _ = _data(3)
    event = np.where(x[:, 1] == 1, 0.0, event)  # no event at all where the binary covariate is 1
    with pytest.raises(CoxFitError) as info:
        newton_cox(time, event, x)
    assert info.value.kind == "monotone"
    assert np.argmax(np.abs(info.value.coef)) == 1
    # only the separated column is flagged (R: "Loglik converged before variable 2")
    assert np.flatnonzero(info.value.diverging).tolist() == [1]
