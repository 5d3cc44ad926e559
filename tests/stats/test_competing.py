"""prognosis.stats.competing against R cmprsk::cuminc / timepoints / crr and survival::coxph.

Reference values: tests/fixtures/competing/make_reference.R (R 4.2.2, cmprsk 2.2.11,
survival 3.5.3) on survival::mgus2 (progression with death competing) and on a small
simulated cohort built with tied event, competing-event and censoring times (ties.csv).
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from prognosis.errors import ModelError
from prognosis.stats.competing import cause_specific_cox, competing_risks
from prognosis.stats.design import Design
from prognosis.stats.fine_gray import fit_fine_gray

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "competing"
MGUS_TIMES = (60, 120, 240, 360)
TIES_TIMES = (2, 5, 10, 20)


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((FIXTURES / "reference.json").read_text())


@pytest.fixture(scope="module")
def mgus2() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "mgus2.csv")


@pytest.fixture(scope="module")
def ties() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "ties.csv")


def _design(columns: dict[str, np.ndarray]) -> Design:
    matrix = pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in columns.items()})
    return Design(matrix, {k.split("[")[0]: (k,) for k in columns}, {k.split("[")[0]: None for k in columns})


def _mgus_design(d: pd.DataFrame) -> Design:
    return _design({"age": d["age"], "sex[M]": d["sex"] == "M", "hgb": d["hgb"]})


def _ties_design(d: pd.DataFrame) -> Design:
    return _design({"x1": d["x1"], "x2": d["x2"]})


@pytest.fixture(scope="module")
def mgus_result(mgus2):
    return competing_risks(mgus2["etime"], mgus2["event"], cause_of_interest=1, group=mgus2["sex"],
                           design=_mgus_design(mgus2), times=MGUS_TIMES)


@pytest.fixture(scope="module")
def ties_result(ties):
    return competing_risks(ties["time"], ties["event"], cause_of_interest=1, group=ties["group"],
                           design=_ties_design(ties), times=TIES_TIMES)


def _check_curve(curve, ref):
    # cuminc()$time/$est/$var list each jump twice (before/after) between a leading 0 and a trailing
    # point at the last follow-up; the "after" corners are at positions 2, 4, ..., len - 2.
    assert_allclose(curve.time, ref["time"][2:-1:2], rtol=0, atol=0)
    assert_allclose(curve.estimate, ref["est"][2:-1:2], rtol=1e-10, atol=1e-12)
    assert_allclose(curve.variance, ref["var"][2:-1:2], rtol=1e-8, atol=1e-14)
    assert curve.followup == ref["time"][-1]
    # timepoints(fit, times): NA (None) after the group's last follow-up
    at = ref["at"]
    assert_allclose([a.estimate for a in curve.at_times], np.array(at["est"], dtype=float), rtol=1e-10, atol=1e-12)
    assert_allclose([a.variance for a in curve.at_times], np.array(at["var"], dtype=float), rtol=1e-8, atol=1e-14)


def _check_terms(result, ref, rtol=1e-6):
    assert_allclose(result.coef, ref["coef"], rtol=rtol)
    assert_allclose(result.se, ref["se"], rtol=rtol)
    assert_allclose(result.hazard_ratio, ref["hr"], rtol=rtol)
    assert_allclose(result.conf_int[:, 0], ref["lower"], rtol=rtol)
    assert_allclose(result.conf_int[:, 1], ref["upper"], rtol=rtol)
    assert_allclose(result.p_value, ref["p"], rtol=1e-5)


def test_cif_by_sex_matches_cuminc(mgus_result, reference):
    # cmprsk::cuminc(etime, event, group = sex) and timepoints(); tolerance 1e-10 est, 1e-8 var (relative)
    ref = reference["mgus2"]["cuminc_by_sex"]
    for sex in ("F", "M"):
        _check_curve(mgus_result.cif[sex], ref[f"{sex} 1"])
        _check_curve(mgus_result.competing_cif["2"][sex], ref[f"{sex} 2"])


def test_cif_without_groups_matches_cuminc(mgus2, reference):
    # cmprsk::cuminc(etime, event), one group labelled "1"
    result = competing_risks(mgus2["etime"], mgus2["event"], cause_of_interest=1, times=MGUS_TIMES)
    _check_curve(result.cif["all"], reference["mgus2"]["cuminc_all"]["1 1"])
    assert result.gray_test is None and result.fine_gray is None


def test_cif_with_tied_times_matches_cuminc(ties_result, reference):
    # cuminc(time, event, group) on ties.csv: event, competing event and censoring at t = 5 etc.
    ref = reference["ties"]["cuminc_by_group"]
    for g in ("a", "b", "c"):
        _check_curve(ties_result.cif[g], ref[f"{g} 1"])
        _check_curve(ties_result.competing_cif["2"][g], ref[f"{g} 2"])


def test_loglog_interval(mgus_result, reference):
    # F ** exp(±z sd / (F log F)) applied to cuminc's own estimate and variance
    at = reference["mgus2"]["cuminc_by_sex"]["M 1"]["at"]
    f, sd = np.array(at["est"], dtype=float), np.sqrt(np.array(at["var"], dtype=float))
    power = np.exp(stats.norm.ppf(0.975) * sd / (f * np.log(f)))
    curve = mgus_result.cif["M"]
    assert_allclose([a.lower for a in curve.at_times], f ** (1 / power), rtol=1e-8)
    assert_allclose([a.upper for a in curve.at_times], f ** power, rtol=1e-8)
    assert all(a.lower < a.estimate < a.upper for a in curve.at_times)


@pytest.mark.parametrize("data, key", [("mgus2", "tests_by_sex"), ("ties", "tests_by_group")])
def test_gray_test_matches_cuminc(request, reference, data, key):
    # cuminc(...)$Tests, both causes; tolerance 1e-8 relative
    frame = request.getfixturevalue(data)
    time, event = (frame["etime"], frame["event"]) if data == "mgus2" else (frame["time"], frame["event"])
    group = frame["sex"] if data == "mgus2" else frame["group"]
    for cause in ("1", "2"):
        result = competing_risks(time, event, cause_of_interest=int(cause), group=group)
        ref = reference[data][key][cause]
        assert_allclose(result.gray_test.statistic, ref["stat"], rtol=1e-8)
        assert_allclose(result.gray_test.p, ref["pv"], rtol=1e-8)
        assert result.gray_test.df == ref["df"]


def test_fine_gray_matches_crr(mgus_result, reference):
    # crr(etime, event, cbind(age, male, hgb), failcode = 1): coef, robust se, HR, 95% CI, p; 1e-6 relative
    assert mgus_result.fine_gray.terms == ("age", "sex[M]", "hgb")
    _check_terms(mgus_result.fine_gray, reference["mgus2"]["crr_pcm"])
    assert_allclose(mgus_result.fine_gray.vcov, reference["mgus2"]["crr_pcm"]["var"], rtol=1e-6)
    assert_allclose(mgus_result.fine_gray.log_likelihood, reference["mgus2"]["crr_pcm"]["loglik"], rtol=1e-10)


def test_fine_gray_other_cause_matches_crr(mgus2, reference):
    # crr(..., failcode = 2): death as the cause of interest, progression competing
    status = np.select([mgus2["event"] == 2, mgus2["event"] == 0], [1, 0], 2)
    _check_terms(fit_fine_gray(mgus2["etime"], status, _mgus_design(mgus2)), reference["mgus2"]["crr_death"])


def test_fine_gray_with_tied_times_matches_crr(ties_result, reference):
    # crr(time, event, cbind(x1, x2), failcode = 1) on ties.csv
    _check_terms(ties_result.fine_gray, reference["ties"]["crr_1"])


@pytest.mark.parametrize("data, key", [("mgus2", "coxph_pcm"), ("ties", "coxph_1")])
def test_cause_specific_cox_matches_coxph(request, reference, data, key):
    # coxph(Surv(time, event == 1) ~ ...), Efron ties; 1e-6 relative
    _check_terms(request.getfixturevalue("mgus_result" if data == "mgus2" else "ties_result").cause_specific, reference[data][key])


def test_cause_specific_cox_wrapper(mgus2, reference):
    result = cause_specific_cox(mgus2["etime"], mgus2["event"], _mgus_design(mgus2), cause_of_interest=1)
    _check_terms(result, reference["mgus2"]["coxph_pcm"])


def test_to_dict_shape_is_json_ready(mgus_result):
    out = json.loads(json.dumps(mgus_result.to_dict()))
    assert out["cause_of_interest"] == "1" and out["competing_causes"] == ["2"]
    assert set(out["cif"]) == {"F", "M"}
    first = out["cif"]["F"]["cumulative_incidence"][0]
    assert set(first) == {"time", "estimate", "lower", "upper"} and first["time"] == 60
    assert set(out["gray_test"]) == {"statistic", "df", "p"}
    for model in ("cause_specific", "fine_gray"):
        assert set(out[model]["terms"]["sex[M]"]) == {"hazard_ratio", "lower", "upper", "p", "coef", "se"}


def test_times_after_followup_are_null(mgus2):
    result = competing_risks(mgus2["etime"], mgus2["event"], cause_of_interest=1, group=mgus2["sex"], times=(1e6,))
    assert result.to_dict()["cif"]["F"]["cumulative_incidence"][0]["estimate"] is None


def test_no_event_of_interest_is_an_error(mgus2):
    with pytest.raises(ModelError, match="cause of interest"):
        competing_risks(mgus2["etime"], mgus2["event"], cause_of_interest=3)
    with pytest.raises(ModelError, match="cause of interest"):
        fit_fine_gray(mgus2["etime"], np.where(mgus2["event"] == 1, 2, mgus2["event"]), _mgus_design(mgus2))


def test_non_convergence_is_an_error(mgus2):
    status = mgus2["event"].to_numpy()
    with pytest.raises(ModelError, match="did not converge"):
        fit_fine_gray(mgus2["etime"], status, _mgus_design(mgus2), max_iter=1)
