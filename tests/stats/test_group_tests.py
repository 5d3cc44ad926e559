"""Weighted, stratified, pairwise and trend log-rank tests against R survival::survdiff.

Reference values: tests/fixtures/survdiff/make_reference.R (R 4.2.2, survival 3.5.3) on GBSG2
and survival::colon (death records). Tolerances: statistic 1e-8 relative, p 1e-6 relative
(agreement found is ~1e-13).
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines.statistics import multivariate_logrank_test
from numpy.testing import assert_allclose
from statsmodels.duration.survfunc import survdiff

from prognosis.errors import ModelError
from prognosis.stats.logrank import (
    logrank_test, logrank_trend_test, pairwise_logrank_test, stratified_logrank_test,
    weighted_logrank_test,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REFERENCE = json.loads((FIXTURES / "survdiff" / "reference.json").read_text())
STAT, P = 1e-8, 1e-6


def _load(name):
    if name == "gbsg2":
        data = pd.read_csv(FIXTURES / "gbsg2" / "gbsg2.csv")
        return data.rename(columns={"cens": "status"})
    data = pd.read_csv(FIXTURES / "survdiff" / "colon_death.csv")
    if name == "colon_differ":
        data = data[data.differ.notna()].astype({"differ": int})
    return data


DATA = {name: _load(name) for name in ("gbsg2", "colon", "colon_differ")}


def _args(key):
    name, variable = key.split("/")[:2]
    data = DATA[name]
    return data, data.time.to_numpy(), data.status.to_numpy(), data[variable].to_numpy()


@pytest.mark.parametrize("key", list(REFERENCE["weighted"]))
def test_g_rho_matches_survdiff(key):
    # survdiff(Surv(time, status) ~ group, rho = 0, 0.5, 1)
    _, time, event, group = _args(key)
    for expected in REFERENCE["weighted"][key]["survdiff"]:
        result = weighted_logrank_test(time, event, group, rho=expected["rho"], levels=tuple(expected["groups"]))
        assert_allclose(result.statistic, expected["statistic"], rtol=STAT)
        assert_allclose(result.p, expected["p"], rtol=P)
        assert result.df == expected["df"]
        # survdiff's obs and exp are weighted by S(t-)^rho too
        assert_allclose(result.observed, list(expected["observed"].values()), rtol=1e-10)
        assert_allclose(result.expected, list(expected["expected"].values()), rtol=1e-10)


@pytest.mark.parametrize("key", list(REFERENCE["weighted"]))
def test_fleming_harrington_matches_derivation_in_r(key):
    # fh_by_hand() in make_reference.R: S(t-)^p (1 - S(t-))^q, checked there to equal survdiff when q = 0
    _, time, event, group = _args(key)
    for expected in REFERENCE["weighted"][key]["by_hand"]:
        result = weighted_logrank_test(time, event, group, rho=expected["rho"], gamma=expected["gamma"])
        assert_allclose(result.statistic, expected["statistic"], rtol=STAT)
        assert_allclose(result.p, expected["p"], rtol=P)
        assert result.to_dict()["gamma"] == expected["gamma"]


def test_fleming_harrington_agrees_with_lifelines():
    # lifelines 0.30 multivariate_logrank_test(weightings="fleming-harrington", p, q)
    data = DATA["gbsg2"]
    expected = multivariate_logrank_test(data.time, data.tgrade, data.status, weightings="fleming-harrington",
                                         p=0.5, q=2).test_statistic
    result = weighted_logrank_test(data.time, data.status, data.tgrade, rho=0.5, gamma=2)
    assert_allclose(result.statistic, expected, rtol=1e-8)


def test_weighted_with_strata_matches_survdiff_and_derivation():
    # survdiff(Surv(time, cens) ~ tgrade + strata(menostat), rho = 1); FH(1, 1) by hand with strata
    data = DATA["gbsg2"]
    ref = REFERENCE["weighted_stratified"]
    for rho, gamma, expected in ((1, 0, ref["survdiff"]), (1, 1, ref["by_hand"])):
        result = weighted_logrank_test(data.time, data.status, data.tgrade, rho=rho, gamma=gamma, strata=data.menostat)
        assert_allclose(result.statistic, expected["statistic"], rtol=STAT)


def test_weighted_agrees_with_statsmodels_and_plain_logrank():
    data = DATA["colon"]
    statistic, _ = survdiff(data.time.to_numpy(), data.status.to_numpy(), data.rx.to_numpy(),
                            weight_type="fh", fh_p=0.5)
    assert_allclose(weighted_logrank_test(data.time, data.status, data.rx, rho=0.5).statistic, statistic, rtol=1e-10)
    plain = logrank_test(data.time.to_numpy(), data.status.to_numpy(), data.rx.to_numpy())
    assert_allclose(weighted_logrank_test(data.time, data.status, data.rx).statistic, plain.statistic, rtol=1e-10)


@pytest.mark.parametrize("key", list(REFERENCE["stratified"]))
def test_stratified_matches_survdiff(key):
    # survdiff(Surv(time, status) ~ group + strata(s))
    data, time, event, group = _args(key)
    expected = REFERENCE["stratified"][key]
    result = stratified_logrank_test(time, event, group, data[key.split("/")[2]].to_numpy(),
                                     levels=tuple(expected["groups"]))
    assert_allclose(result.statistic, expected["statistic"], rtol=STAT)
    assert_allclose(result.p, expected["p"], rtol=P)
    assert result.df == expected["df"]
    as_dict = result.to_dict()
    assert set(as_dict) == {"statistic", "df", "p", "strata"}
    for got, want in zip(as_dict["strata"], expected["strata"]):
        assert got["stratum"] == want["stratum"] and got["n"] == want["n"]
        assert_allclose(list(got["expected"].values()), list(want["expected"].values()), rtol=1e-10)
        assert list(got["observed"].values()) == list(want["observed"].values())


def test_stratified_agrees_with_statsmodels():
    data = DATA["colon"]
    statistic, _ = survdiff(data.time.to_numpy(), data.status.to_numpy(), data.rx.to_numpy(),
                            strata=data.sex.to_numpy())
    assert_allclose(stratified_logrank_test(data.time, data.status, data.rx, data.sex).statistic, statistic, rtol=1e-10)


@pytest.mark.parametrize("key", list(REFERENCE["pairwise"]))
def test_pairwise_matches_survdiff_and_p_adjust(key):
    # survdiff on each pair's subset; p.adjust(p, "holm") and p.adjust(p, "bonferroni")
    data, time, event, group = _args(key)
    parts = key.split("/")
    strata = data[parts[2]].to_numpy() if len(parts) > 2 and parts[2] != "rho1" else None
    rho = 1.0 if parts[-1] == "rho1" else 0.0
    result = pairwise_logrank_test(time, event, group, rho=rho, strata=strata, method="holm")
    expected = {frozenset(c["groups"]): c for c in REFERENCE["pairwise"][key]["comparisons"]}
    assert len(result.comparisons) == len(expected)
    for comparison in result.to_dict()["comparisons"]:
        want = expected[frozenset(comparison["groups"])]
        assert_allclose(comparison["statistic"], want["statistic"], rtol=STAT)
        assert_allclose([comparison["p"], comparison["p_adjusted"], comparison["p_bonferroni"]],
                        [want["p"], want["p_holm"], want["p_bonferroni"]], rtol=P)


def test_pairwise_follows_given_level_order_and_method():
    data = DATA["colon"]
    result = pairwise_logrank_test(data.time, data.status, data.rx, levels=("Obs", "Lev", "Lev+5FU"), method="bonferroni")
    assert [c.groups for c in result.comparisons] == [("Obs", "Lev"), ("Obs", "Lev+5FU"), ("Lev", "Lev+5FU")]
    assert all(c.p_adjusted == c.p_bonferroni for c in result.comparisons)
    with pytest.raises(ModelError, match="adjustment"):
        pairwise_logrank_test(data.time, data.status, data.rx, method="nonsense")


TREND_LEVELS = {"tgrade": ("I", "II", "III"), "differ": ("1", "2", "3"), "rx": ("Obs", "Lev", "Lev+5FU")}


@pytest.mark.parametrize("key", list(REFERENCE["trend"]))
def test_trend_matches_survdiff_scores(key):
    # (sum(s * (obs - exp)))^2 / (s' var s) from survdiff, df 1
    data, time, event, group = _args(key)
    expected = REFERENCE["trend"][key]
    parts = key.split("/")
    strata = data.menostat.to_numpy() if parts[-1] == "menostat" else None
    rho = 1.0 if parts[-1] == "rho1" else 0.0
    result = logrank_trend_test(time, event, group, levels=TREND_LEVELS[parts[1]],
                                scores=tuple(expected["scores"].values()), strata=strata, rho=rho)
    assert_allclose(result.statistic, expected["statistic"], rtol=STAT)
    assert_allclose(result.p, expected["p"], rtol=P)
    assert result.to_dict()["scores"] == dict(zip(TREND_LEVELS[parts[1]], expected["scores"].values()))
    if "coxph_score" in expected:
        # summary(coxph(Surv ~ score, ties = "exact"))$sctest: the same test
        assert_allclose(result.statistic, expected["coxph_score"]["exact"]["statistic"], rtol=1e-8)


def test_trend_default_scores_are_one_to_k():
    data = DATA["gbsg2"]
    result = logrank_trend_test(data.time, data.status, data.tgrade, levels=("I", "II", "III"))
    assert result.scores == {"I": 1.0, "II": 2.0, "III": 3.0}
    assert_allclose(result.statistic, REFERENCE["trend"]["gbsg2/tgrade"]["statistic"], rtol=STAT)


def test_bad_inputs_raise_model_error_naming_the_variable():
    time, event = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 0, 1, 1])
    with pytest.raises(ModelError, match="grade"):
        weighted_logrank_test(time, event, np.array(["a", "a", "a", "a"]), by="grade")
    with pytest.raises(ModelError, match="grade"):
        weighted_logrank_test(time, event, np.array(["a", None, "b", "b"], dtype=object), by="grade")
    with pytest.raises(ModelError, match="grade"):
        logrank_trend_test(time, event, np.array(["a", "a", "b", "b"]), scores=(1.0,), by="grade")
    with pytest.raises(ModelError, match="rho"):
        weighted_logrank_test(time, event, np.array(["a", "a", "b", "b"]), rho=-1)
