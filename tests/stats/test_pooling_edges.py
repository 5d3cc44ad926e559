"""Rubin's rules, D1 and D3 when the between-imputation variance is zero, against mice / mitml.

With no missing value every imputation gives the same estimates: B = 0 and r = 0, and the F
tests' denominator df (which divides by r) is infinite in R, an F on (k, Inf) df. prognosis
raised ZeroDivisionError there (issue 9, defect 14). Reference values:
tests/fixtures/pooling_edges/make_reference.R (R 4.2.2, mice 3.15.0, mitml); tolerance 1e-10.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from prognosis.errors import ModelError
from prognosis.stats.pooling import pooled_likelihood_ratio_test, pooled_wald_test, rubin_pool

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "pooling_edges"
INPUTS = json.loads((FIXTURE / "inputs.json").read_text())
REFERENCE = json.loads((FIXTURE / "reference.json").read_text())
TOL = 1e-10


def _number(value):
    return {"Inf": float("inf"), "NaN": float("nan")}.get(value, value)


def _imputations(m):
    coef = np.tile(INPUTS["coef"], (m, 1))
    vcov = np.tile(np.array(INPUTS["vcov"]), (m, 1, 1))
    return coef, vcov


@pytest.mark.parametrize("key, m, dfcom", [("small", "m_small", np.inf), ("large_dfcom", "m_large", "dfcom")])
def test_rubin_pool_with_zero_between_variance(key, m, dfcom):
    # mice::pool.scalar(Q, U, n = dfcom + 1, k = 1)
    dfcom = INPUTS[dfcom] if isinstance(dfcom, str) else dfcom
    pooled = rubin_pool(*_imputations(INPUTS[m]), dfcom=dfcom)
    for j, expected in enumerate(REFERENCE["rubin"][key]):
        assert_allclose([pooled.coef[j], pooled.within[j], pooled.between[j], pooled.total[j], pooled.riv[j]],
                        [expected["qbar"], expected["ubar"], expected["b"], expected["t"], expected["r"]],
                        rtol=TOL, atol=1e-15)
        assert_allclose(pooled.df[j], expected["df"], rtol=TOL)
        assert_allclose(pooled.fmi[j], expected["fmi"], rtol=1e-6)  # printed by R to 9 digits


@pytest.mark.parametrize("key, m, dfcom", [("small", "m_small", None), ("large", "m_large", None),
                                           ("large_dfcom", "m_large", "dfcom"), ("large_dfcom3", "m_large", 3)])
def test_d1_with_zero_between_variance(key, m, dfcom):
    # mitml:::.D1(Qhat, Uhat, df.com), as mice::D1: r = 0 gives df2 = Inf
    expected = REFERENCE["D1"][key]
    dfcom = INPUTS[dfcom] if isinstance(dfcom, str) else dfcom
    test = pooled_wald_test(*_imputations(INPUTS[m]), dfcom=dfcom)
    assert test.df1 == expected["df1"] and test.riv == expected["riv"]
    assert_allclose(test.statistic, expected["statistic"], rtol=TOL)
    assert_allclose(test.df2, _number(expected["df2"]), rtol=TOL)
    assert_allclose(test.p, _number(expected["p"]), rtol=TOL)
    assert test.to_dict()["df2"] == (None if expected["df2"] in ("Inf", "NaN") else pytest.approx(expected["df2"]))


@pytest.mark.parametrize("key, m", [("small", "m_small"), ("large", "m_large")])
def test_d3_with_zero_between_variance(key, m):
    # the lines of mice::D3 with deviances identical over imputations: rm = 0, w = Inf
    expected = REFERENCE["D3"][key]
    m = INPUTS[m]
    full, base = np.full(m, INPUTS["loglik_full"]), np.full(m, INPUTS["loglik_base"])
    test = pooled_likelihood_ratio_test(full, base, full, base, k=2)
    assert test.riv == expected["riv"]
    assert_allclose(test.statistic, expected["statistic"], rtol=TOL)
    assert_allclose(test.df2, _number(expected["df2"]), rtol=TOL)
    assert_allclose(test.p, expected["p"], rtol=TOL)


def test_one_imputation_is_a_named_error():
    coef, vcov = _imputations(1)
    for call in (lambda: rubin_pool(coef, vcov), lambda: pooled_wald_test(coef, vcov),
                 lambda: pooled_likelihood_ratio_test(np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1), k=1)):
        with pytest.raises(ModelError, match="at least two imputations"):
            call()
