"""Discrimination indexes that are undefined: NaN with a note, as R, never a traceback.

Reference values: tests/fixtures/discrimination_edges/make_reference.R (R 4.2.2, survival 3.5.3):
``concordance(Surv(time, status) ~ risk, reverse = TRUE)`` and, for Uno's C, with
``ymax = tau, timewt = "n/G2"``; NaN where no pair is comparable (issue 9, defect 14).
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prognosis.errors import PrognosisWarning
from prognosis.stats.discrimination import discrimination, harrell_c

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "discrimination_edges"
REFERENCE = json.loads((FIXTURE / "reference.json").read_text())
CASES = pd.read_csv(FIXTURE / "cases.csv")


def _case(name):
    data = CASES[CASES.case == name]
    return data.time.to_numpy(float), data.status.to_numpy(float), data.risk.to_numpy(float), float(data.tau.iloc[0])


def _nan_or(value):
    return float("nan") if value is None else value


@pytest.mark.parametrize("name", ["no_pairs", "events_after_tau"])
def test_undefined_indexes_are_nan_as_in_r(name):
    time, event, risk, tau = _case(name)
    expected = REFERENCE[name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = discrimination(time, event, risk, times=[tau], survival_at_times=np.full((time.size, 1), 0.5))
    assert result.harrell_c == pytest.approx(_nan_or(expected["harrell_c"]), rel=1e-10, nan_ok=True)
    assert np.isnan(result.uno_c) and expected["uno_c"] is None
    # AUC(tau) = P(risk_i > risk_j | T_i <= tau < T_j) has no case i with an event by tau: undefined.
    assert np.isnan(result.auc).all() and np.isnan(result.mean_auc)
    out = result.to_dict()
    assert out["uno_c"] is None and out["auc"] == [None] and out["mean_auc"] is None
    notes = [str(w.message) for w in caught if issubclass(w.category, PrognosisWarning)]
    assert (f"Uno's C (truncated at {tau:g}) is undefined (no event by {tau:g} with a patient followed beyond it); "
            "reported as null") in notes
    assert any(n.startswith(f"the time-dependent AUC at {tau:g} is undefined") for n in notes)


def test_harrell_c_without_comparable_pairs_is_nan():
    # R: concordance(...)$concordance is NaN (count of concordant + discordant + tied.x = 0)
    time, event, risk, _ = _case("no_pairs")
    assert REFERENCE["no_pairs"]["harrell_c"] is None
    assert np.isnan(harrell_c(time, event, risk))


def test_censoring_distribution_at_zero_is_a_note_not_a_traceback():
    # The longest follow-up (3) is a censoring tied with an event: scikit-survival's censoring
    # weights reach 0 and it refuses the AUC ("censoring survival function is zero").
    time = np.array([3.0, 3.0, 2.0, 2.0, 1.0, 1.0, 1.0])
    event = np.array([0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    risk = np.array([2.0, 1.0, 1.0, 1.0, 2.0, 0.0, 2.0])
    with pytest.warns(PrognosisWarning, match="the time-dependent AUC is undefined .the censoring distribution"):
        result = discrimination(time, event, risk, times=[1.0, 2.5])
    assert np.isnan(result.auc).all()
    assert np.isfinite(result.uno_c) and np.isfinite(result.harrell_c)
