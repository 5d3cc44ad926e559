"""Edges of the statistics rules of issue 9 that bugs planted one at a time slipped through.

Each test pins one rule at the point where a plausible slip changes the answer: survival's
near-tie rule at equality (``<=``) and with its mean over the distinct times, near ties merged for
competing risks too, a censoring inside an exact flat at S = 0.5 (the printed median is the
midpoint with the next drop, not with the censoring), and the input checks for an infinite
covariate and an undeclared cause code. Expected values from R 4.2.2, survival 3.5.3, cmprsk
2.2-11 (tests/fixtures/mutation_review/make_reference.R) or by hand, written out below.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

from prognosis.errors import ModelError
from prognosis.stats.checks import check_competing, check_survival, merge_near_ties
from prognosis.stats.design import Design
from prognosis.stats.fine_gray import fit_fine_gray
from prognosis.stats.km import kaplan_meier
from prognosis.stats.wald import terms_dict, wald_summary

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mutation_review"


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((FIXTURES / "reference.json").read_text())


def _na(value) -> float:
    return float("nan") if value in ("NA", "NaN", None) else float(value)


@pytest.mark.parametrize("case", ["absolute_equal", "relative_equal", "mean_of_distinct"])
def test_merge_near_ties_at_the_edges_of_aeqsurv(reference, case):
    # absolute_equal: gap 0.5 == tolerance ties (R: dy <= tol); relative_equal: gaps 1 over the
    # mean 2 are 0.5 == tolerance; mean_of_distinct: the mean is over the distinct times 1, 3, 10
    # (2 / (14/3) = 0.43 > 0.4, not tied), not over all eight (2 / 8 = 0.25 would tie them).
    ref = reference["aeqsurv"][case]
    merged = merge_near_ties(np.array(ref["time"], dtype=float), tolerance=ref["tolerance"])
    assert_array_equal(merged, ref["merged"])


def test_merge_near_ties_leaves_a_missing_time_missing():
    # By hand: 1 and 1 + 1e-12 are one time (absolute rule); NaN stays NaN, as R's cuts[NA].
    merged = merge_near_ties(np.array([1.0, 1.0 + 1e-12, np.nan, 5.0]))
    assert_array_equal(merged, [1.0, 1.0, np.nan, 5.0])


def test_check_competing_merges_near_ties():
    # By hand: 2 - 1e-12 and 2 are one time, the smaller; 3 stays.
    time, status = check_competing(np.array([2.0, 2.0 - 1e-12, 3.0]), np.array([1, 0, 2]))
    assert_array_equal(time, [2.0 - 1e-12, 2.0 - 1e-12, 3.0])
    assert_array_equal(status, [1, 0, 2])


def test_fine_gray_on_near_ties_is_crr_on_the_merged_times(reference):
    ref = reference["fine_gray_near_ties"]
    time = np.array([float(t) for t in ref["time_17g"]])
    x = pd.DataFrame({"x": [float(v) for v in ref["x_17g"]]})
    design = Design(x, {"x": ("x",)}, {"x": None})
    fit = fit_fine_gray(time, np.array(ref["status"]), design)
    # crr's own stopping rule leaves ~1e-6 relative; merged and unmerged differ by 5e-3
    assert abs(ref["coef"] - ref["coef_unmerged"]) > 1e-3
    assert fit.coef[0] == pytest.approx(ref["coef"], rel=1e-6)
    assert fit.se[0] == pytest.approx(ref["se"], rel=1e-5)


@pytest.mark.parametrize("conf_type", ["log-log", "log", "plain"])
def test_printed_median_on_a_flat_with_a_censoring_inside_it(reference, conf_type):
    # S = 3/4 at 1, exactly 1/2 from 2 (through the censoring at 3), 0 at 4: the median is
    # (2 + 4) / 2 = 3, the midpoint with the next drop, not (2 + 3) / 2 with the censoring.
    ref = reference["km_censored_flat"]
    curve = kaplan_meier(np.array(ref["time"], dtype=float), np.array(ref["status"], dtype=float),
                         conf_type=conf_type)
    expected = ref[conf_type]
    assert curve.median.estimate == expected["median"] == 3
    assert curve.median.lower == pytest.approx(_na(expected["lower"]))
    assert np.isnan(curve.median.upper) and np.isnan(_na(expected["upper"]))
    quantile = curve.quantile(0.5)
    assert quantile.estimate == expected["quantile"]
    assert quantile.lower == pytest.approx(_na(expected["quantile_lower"]))
    assert np.isnan(quantile.upper)


def test_an_infinite_covariate_is_a_model_error():
    time = np.arange(1.0, 7.0)
    event = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    design = pd.DataFrame({"age": [50.0, 60.0, np.inf, 55.0, 40.0, 70.0]})
    with pytest.raises(ModelError, match="design has infinite values"):
        check_survival(time, event, design=design)


def test_an_undeclared_cause_code_is_a_model_error():
    # causes 1 and 2 declared, censoring 0: a 3 is neither
    with pytest.raises(ModelError, match="another code for 1 patient"):
        check_competing(np.arange(1.0, 5.0), np.array([1, 0, 3, 2]), causes=(1, 2))


def test_a_hazard_ratio_exp_cannot_represent_is_null_and_no_warning():
    # By hand: exp(800) overflows to inf and exp(-800) underflows to 0 (the smallest double is
    # ~4.9e-324 = exp(-744.4)); neither is a hazard ratio, so results.json carries null, as the
    # schema allows; exp(1) = 2.718... stays. R reports Inf and 0 with no warning; so does this.
    coef, se = np.array([800.0, -800.0, 1.0]), np.array([1.0, 1.0, 0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hazard_ratio, conf_int, p_value = wald_summary(coef, se, 0.95)
    fit = SimpleNamespace(terms=("big", "small", "one"), coef=coef, se=se, hazard_ratio=hazard_ratio,
                          conf_int=conf_int, p_value=p_value)
    terms = terms_dict(fit)
    assert terms["big"]["hazard_ratio"] is None and terms["big"]["upper"] is None
    assert terms["small"]["hazard_ratio"] is None and terms["small"]["lower"] is None
    assert terms["one"]["hazard_ratio"] == pytest.approx(np.e, rel=1e-15)
    assert terms["small"]["coef"] == -800.0
