"""prognosis.stats.km against R survival::survfit on GBSG2 (tests/fixtures/gbsg2/make_reference.R)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from prognosis.errors import ModelError
from prognosis.stats.km import kaplan_meier, kaplan_meier_by

TIMES = (365, 1095, 1825)
RTOL = 1e-6  # the issue asks for 1e-4; the agreement is much closer than that


def _nan(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@pytest.mark.parametrize("conf_type, key", [("log-log", "km"), ("log", "km_log"), ("plain", "km_plain")])
@pytest.mark.parametrize("group", ["no", "yes"])
def test_steps_match_survfit(gbsg2, r_reference, conf_type, key, group):
    # survfit(Surv(time, cens) ~ horTh, conf.type = conf_type), rows with n.event > 0
    subset = gbsg2[gbsg2.horTh == group]
    curve = kaplan_meier(subset.time.to_numpy(), subset.cens.to_numpy(), conf_type=conf_type)
    steps = r_reference["km"][group]["steps"] if key == "km" else r_reference[key]["steps"][group]
    has_event = np.array(steps["n_event"]) > 0
    assert_allclose(curve.time, np.array(steps["time"])[has_event])
    assert_allclose(curve.survival, np.array(steps["surv"])[has_event], rtol=RTOL)
    assert_allclose(curve.lower, _nan(steps["lower"])[has_event], rtol=RTOL)
    assert_allclose(curve.upper, _nan(steps["upper"])[has_event], rtol=RTOL)
    assert_allclose(curve.n_at_risk, np.array(steps["n_risk"])[has_event])
    assert curve.n == r_reference["km"][group]["n"]
    assert curve.events == r_reference["km"][group]["events"]


@pytest.mark.parametrize("conf_type, key", [("log-log", "km"), ("log", "km_log"), ("plain", "km_plain")])
def test_survival_at_times_matches_summary_survfit(gbsg2, r_reference, conf_type, key):
    # summary(fit, times = c(365, 1095, 1825))
    result = kaplan_meier_by(gbsg2.time, gbsg2.cens, gbsg2.horTh, times=TIMES, conf_type=conf_type, by="horTh")
    for group, curve in result.groups.items():
        expected = r_reference["km"][group]["at_times"] if key == "km" else r_reference[key]["at_times"][group]
        assert [s.time for s in curve.at_times] == expected["time"]
        assert_allclose([s.estimate for s in curve.at_times], expected["surv"], rtol=RTOL)
        assert_allclose([s.lower for s in curve.at_times], expected["lower"], rtol=RTOL)
        assert_allclose([s.upper for s in curve.at_times], expected["upper"], rtol=RTOL)
        assert [s.n_at_risk for s in curve.at_times] == expected["n_risk"]


@pytest.mark.parametrize("group", ["no", "yes"])
def test_median_and_its_interval_match_survfit(gbsg2, r_reference, group):
    # print(survfit(..., conf.type = "log-log")): median, 0.95LCL, 0.95UCL; NA -> NaN
    subset = gbsg2[gbsg2.horTh == group]
    median = kaplan_meier(subset.time.to_numpy(), subset.cens.to_numpy()).median
    expected = r_reference["km"][group]["median"]
    assert_allclose([median.estimate, median.lower, median.upper],
                    _nan([expected["estimate"], expected["lower"], expected["upper"]]))


def test_median_not_reached_is_nan():
    time = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    event = np.array([1, 0, 0, 0, 0])
    median = kaplan_meier(time, event).median
    assert np.isnan(median.estimate) and np.isnan(median.upper)


def test_time_beyond_follow_up_is_nan_and_before_first_event_is_one():
    curve = kaplan_meier(np.array([2.0, 3.0, 5.0]), np.array([1, 1, 0]), times=(1.0, 6.0))
    before, beyond = curve.at_times
    assert before.estimate == 1.0 and np.isnan(before.lower)  # R: NA interval while S = 1
    assert np.isnan(beyond.estimate) and beyond.n_at_risk == 0


def test_n_at_risk_counts_tied_times():
    curve = kaplan_meier(np.array([1.0, 1.0, 2.0, 2.0, 3.0]), np.array([1, 0, 1, 1, 0]))
    assert list(curve.n_at_risk_at(np.array([0.0, 1.0, 1.5, 3.0, 4.0]))) == [5, 5, 3, 1, 0]


def test_one_group_cannot_be_compared():
    with pytest.raises(ModelError, match="only one level"):
        kaplan_meier_by(np.array([1.0, 2.0]), np.array([1, 0]), np.array(["a", "a"]), by="casting")
