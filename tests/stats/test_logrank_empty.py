"""Log-rank tests when a group has no expected events, or no variance, against R survdiff.

Reference values: tests/fixtures/survdiff_empty/make_reference.R (R 4.2.2, survival 3.5.3) on
survival::aml plus 7 patients of a group "Withdrawn", all censored before the first death
(issue 9, defect 1). survdiff leaves such a group out of the chi-square and its df; where a group
has expected events but zero variance survdiff's solve() fails, and the reference is survival's
generalised-inverse Wald test ``coxph.wtest`` (df = rank). Tolerance 1e-8 relative.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from prognosis.errors import PrognosisWarning
from prognosis.stats.logrank import (
    logrank_test, logrank_trend_test, pairwise_logrank_test, stratified_logrank_test,
    weighted_logrank_test,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "survdiff_empty"
REFERENCE = json.loads((FIXTURE / "reference.json").read_text())
EMPTY = pd.read_csv(FIXTURE / "aml_empty.csv")
LATE = pd.read_csv(FIXTURE / "aml_late.csv")
TOL = 1e-8


def _arrays(data):
    return data.time.to_numpy(), data.status.to_numpy(), data.x.to_numpy()


def _assert_matches(result, expected):
    assert result.df == expected["df"]
    assert_allclose(result.statistic, expected["statistic"], rtol=TOL)
    assert_allclose(result.p, expected["p"], rtol=TOL)


def test_plain_logrank_drops_the_group_without_expected_events():
    # survdiff(Surv(time, status) ~ x): chisq 3.3964 on 1 df, p 0.0653 (the numbers)
    expected = REFERENCE["plain"]
    result = logrank_test(*_arrays(EMPTY), by="x")
    _assert_matches(result, expected)
    assert result.groups == tuple(expected["groups"])
    assert list(result.observed) == list(expected["observed"].values())
    assert result.to_dict()["df"] == 1


@pytest.mark.parametrize("key, rho", [("plain", 0.0), ("weighted_rho1", 1.0)])
def test_weighted_logrank(key, rho):
    # survdiff(Surv(time, status) ~ x, rho = rho)
    expected = REFERENCE[key]
    result = weighted_logrank_test(*_arrays(EMPTY), rho=rho)
    _assert_matches(result, expected)
    assert_allclose(result.expected, list(expected["expected"].values()), rtol=TOL, atol=1e-12)


@pytest.mark.parametrize("key, rho", [("stratified", 0.0), ("stratified_rho1", 1.0)])
def test_stratified_logrank(key, rho):
    # survdiff(Surv(time, status) ~ x + strata(site), rho = rho)
    expected = REFERENCE[key]
    result = stratified_logrank_test(*_arrays(EMPTY), EMPTY.site.to_numpy(), rho=rho)
    _assert_matches(result, expected)
    for got, want in zip(result.strata, expected["strata"]):
        assert (got.stratum, got.n) == (want["stratum"], want["n"])
        assert_allclose(list(got.expected.values()), list(want["expected"].values()), rtol=TOL, atol=1e-12)


@pytest.mark.parametrize("key, strata", [("pairwise", None), ("pairwise_stratified", "site")])
def test_pairwise_logrank_leaves_untestable_pairs_out_of_the_adjustment(key, strata):
    # survdiff on each pair; a pair with df 0 has p NA, and p.adjust(holm / bonferroni) skips NA
    result = pairwise_logrank_test(*_arrays(EMPTY), method="holm",
                                   strata=None if strata is None else EMPTY[strata].to_numpy())
    for got, want in zip(result.comparisons, REFERENCE[key]["comparisons"]):
        assert list(got.groups) == want["groups"]
        assert_allclose(got.statistic, want["statistic"], rtol=TOL, atol=1e-12)
        for name, ref in [("p", "p"), ("p_adjusted", "p_holm"), ("p_bonferroni", "p_bonferroni")]:
            if want[ref] is None:
                assert np.isnan(getattr(got, name)) and got.to_dict()[name] is None
            else:
                assert_allclose(getattr(got, name), want[ref], rtol=TOL)


@pytest.mark.parametrize("key", list(REFERENCE["trend"]))
def test_trend_with_an_empty_group(key):
    # (sum(s * (obs - exp)))^2 / (t(s) %*% var %*% s) from survdiff, 1 df
    expected = REFERENCE["trend"][key]
    strata = EMPTY.site.to_numpy() if "stratified" in key else None
    result = logrank_trend_test(*_arrays(EMPTY), levels=tuple(expected["levels"]),
                                scores=tuple(expected["scores"].values()), rho=expected["rho"], strata=strata)
    _assert_matches(result, expected)


def test_zero_variance_group_is_dropped_by_the_generalised_inverse():
    # survdiff(~ x + strata(site)) fails ("exactly singular"): the Late group's only stratum has
    # both its patients dying at once. coxph.wtest(var, O - E): chisq on df = rank = 1.
    expected = REFERENCE["singular"]
    result = stratified_logrank_test(*_arrays(LATE), LATE.site.to_numpy(), levels=tuple(expected["groups"]))
    _assert_matches(result, expected)
    weighted = weighted_logrank_test(*_arrays(LATE), strata=LATE.site.to_numpy(), levels=tuple(expected["groups"]))
    _assert_matches(weighted, expected)


def test_no_testable_direction_gives_df_zero_and_no_p():
    # Two groups, one with no expected events: survdiff gives chisq 0 (sum(exp > 0) < 2).
    rows = EMPTY.x.isin(["Maintained", "Withdrawn"])
    result = logrank_test(*_arrays(EMPTY[rows]))
    assert (result.statistic, result.df) == (0.0, 0)
    assert np.isnan(result.p) and result.to_dict()["p"] is None


def test_trend_without_information_has_df_zero():
    # Only the empty Withdrawn group and one other: s'Vs = 0 (R: u^2 / v = 0 / 0); no test.
    rows = EMPTY.x.isin(["Maintained", "Withdrawn"])
    with pytest.warns(PrognosisWarning, match="no trend can be tested"):
        result = logrank_trend_test(*_arrays(EMPTY[rows]), levels=("Maintained", "Withdrawn"))
    assert (result.statistic, result.df) == (0.0, 0) and result.to_dict()["p"] is None


def test_dropped_groups_are_noted_by_name():
    with pytest.warns(PrognosisWarning, match="x: Withdrawn had no expected events"):
        logrank_test(*_arrays(EMPTY), by="x")
    with pytest.warns(PrognosisWarning, match="the log-rank variance is singular .groups that are never at risk"):
        stratified_logrank_test(*_arrays(LATE), LATE.site.to_numpy())
