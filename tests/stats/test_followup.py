"""prognosis.stats.followup against R survival::survfit on the reversed status.

Reference values: tests/fixtures/survdiff/make_reference.R (R 4.2.2, survival 3.5.3) on GBSG2
and survival::colon (death records). Medians and bounds are event times, matched to 1e-10.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from prognosis.stats.followup import median_followup, median_followup_by, numbers_at_risk
from prognosis.stats.km import kaplan_meier_by

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REFERENCE = json.loads((FIXTURES / "survdiff" / "reference.json").read_text())
GBSG2 = pd.read_csv(FIXTURES / "gbsg2" / "gbsg2.csv").rename(columns={"cens": "status"})
COLON = pd.read_csv(FIXTURES / "survdiff" / "colon_death.csv")
DATA = {"gbsg2": GBSG2, "colon": COLON}


def _nan(values):
    return [np.nan if v is None else v for v in values]


@pytest.mark.parametrize("key", ["gbsg2/log", "gbsg2/log-log", "colon/log"])
def test_median_followup_matches_reverse_survfit(key):
    # quantile(survfit(Surv(time, 1 - status) ~ 1, conf.type = ...), 0.5)
    name, conf_type = key.split("/")
    data = DATA[name]
    result = median_followup(data.time.to_numpy(), data.status.to_numpy(), conf_type=conf_type)
    expected = REFERENCE["followup"][key]
    assert_allclose([result.median, result.lower, result.upper],
                    _nan([expected["median"], expected["lower"], expected["upper"]]), rtol=1e-10)
    assert result.to_dict()["method"] == "reverse Kaplan-Meier"
    assert set(result.to_dict()) == {"median", "lower", "upper", "method"}


@pytest.mark.parametrize(("key", "variable", "conf_type"),
                         [("gbsg2/horTh/log", "horTh", "log"), ("colon/rx/log-log", "rx", "log-log")])
def test_median_followup_by_group_matches_reverse_survfit(key, variable, conf_type):
    # survfit(Surv(time, 1 - status) ~ 1) within each group
    data = DATA[key.split("/")[0]]
    result = median_followup_by(data.time, data.status, data[variable], conf_type=conf_type)
    expected = REFERENCE["followup"][key]
    assert set(result) == set(expected)
    for level, want in expected.items():
        got = result[level]
        assert_allclose([got.median, got.lower, got.upper], _nan([want["median"], want["lower"], want["upper"]]),
                        rtol=1e-10)
        assert got.n == want["n"]


def test_median_not_reached_is_none_in_dict():
    # Only early censoring: the reverse curve never falls to 0.5.
    time = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    event = np.array([0, 1, 1, 1, 1, 1])
    as_dict = median_followup(time, event).to_dict()
    assert as_dict["median"] is None and as_dict["upper"] is None


def test_everyone_with_an_event_has_a_null_followup_median_with_a_note():
    # R: quantile(survfit(Surv(time, 1 - status) ~ 1), 0.5) is NA when nobody is censored
    # (tests/fixtures/all_events/reference.json, survival::lung deaths only); it used to raise.
    expected = json.loads((FIXTURES / "all_events" / "reference.json").read_text())["all_events"]["followup"]
    data = pd.read_csv(FIXTURES / "all_events" / "lung_dead.csv")
    result = median_followup(data.time.to_numpy(), data.status.to_numpy(), conf_type="log-log")
    as_dict = result.to_dict()
    assert {k: as_dict[k] for k in ("median", "lower", "upper")} == expected
    assert result.n_censored == 0 and "every patient had the event" in as_dict["note"]


@pytest.mark.parametrize(("key", "variable"), [("gbsg2/horTh", "horTh"), ("colon/rx", "rx")])
def test_numbers_at_risk_match_survfit_summary(key, variable):
    # summary(survfit(Surv(time, status) ~ group), times = ..., extend = TRUE)$n.risk
    data = DATA[key.split("/")[0]]
    expected = REFERENCE["at_risk"][key]
    result = numbers_at_risk(data.time, data[variable], times=tuple(expected["times"]))
    assert {g: list(n) for g, n in result.n_at_risk.items()} == expected["n_risk"]
    assert result.to_frame().shape == (len(expected["n_risk"]), len(expected["times"]))


def test_numbers_at_risk_agree_with_km_curves():
    times = (0.0, 500.0, 1500.0, 2500.0)
    km = kaplan_meier_by(GBSG2.time.to_numpy(), GBSG2.status.to_numpy(), GBSG2.tgrade.to_numpy())
    result = numbers_at_risk(GBSG2.time, GBSG2.tgrade, times=times)
    for level, curve in km.groups.items():
        assert list(result.n_at_risk[level]) == list(curve.n_at_risk_at(np.array(times)))
    assert numbers_at_risk(GBSG2.time, times=(0.0,)).n_at_risk == {"all": (686,)}
