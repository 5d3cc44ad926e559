"""prognosis.stats.validation, discrimination and bootstrap against R (survival, rms) and scikit-survival.

Reference values: tests/fixtures/validation/reference.json, written by make_reference.R there
(R 4.2.2, survival 3.5.3, rms 6.5.0) on tests/fixtures/gbsg2/gbsg2.csv.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from numpy.testing import assert_allclose
from sksurv.metrics import brier_score, cumulative_dynamic_auc, integrated_brier_score
from sksurv.util import Surv

from prognosis.cohort import assemble_cohort, read_table
from prognosis.errors import ConvergenceWarning, ModelError, PrognosisWarning
from prognosis.spec import load_spec
from prognosis.stats import design_matrix, fit_cox
from prognosis.stats.bootstrap import _fit, bootstrap_validate
from prognosis.stats.discrimination import discrimination, harrell_c
from prognosis.stats.validation import (
    baseline_hazard, calibration_at, events_per_variable, linear_predictor, predict_survival, validate_cox)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MODEL = ("horTh", "age", "menostat", "tsize", "tgrade", "pnodes", "progrec", "estrec")
TIMES = (365.0, 1095.0, 1825.0)


@pytest.fixture(scope="module")
def reference():
    return json.loads((FIXTURES / "validation" / "reference.json").read_text())


@pytest.fixture(scope="module")
def cohort():
    spec = load_spec(FIXTURES / "gbsg2" / "gbsg2_spec.yaml")
    tables = [read_table(t.name, t.path, t.dictionary) for t in spec.tables]
    return assemble_cohort(tables, spec.join, spec.endpoint, spec.model_variables)


@pytest.fixture(scope="module")
def design(cohort):
    return design_matrix(cohort.data, [cohort.variables[v] for v in MODEL])


@pytest.fixture(scope="module")
def fitted(cohort, design):
    fit = fit_cox(cohort.time, cohort.event, design)
    base = baseline_hazard(cohort.time, cohort.event, design, fit.coef, ties="efron")
    return fit, base, linear_predictor(design, fit.coef)


@pytest.fixture(scope="module")
def boot(cohort, design):
    return bootstrap_validate(cohort.time, cohort.event, design, B=200, seed=1)


# ----------------------------------------------------------------------------- predictions

@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_survival_predictions_match_survfit(cohort, design, reference, ties):
    # summary(survfit(coxph(f, ties = ties), newdata = gbsg2[rows, ]), times = c(365, 1095, 1825))
    expected = reference["predictions"][ties]
    rows = np.array(expected["rows"]) - 1
    fit = fit_cox(cohort.time, cohort.event, design, ties=ties)
    base = baseline_hazard(cohort.time, cohort.event, design, fit.coef, ties=ties)
    new = design.matrix.iloc[rows]
    assert_allclose(linear_predictor(new, fit.coef), expected["linear_predictor"], rtol=1e-8)
    assert_allclose(predict_survival(base, new, expected["times"]), expected["surv"], rtol=1e-8)


def test_survival_is_one_before_the_first_event(fitted, design):
    _, base, _ = fitted
    assert_allclose(predict_survival(base, design.matrix.iloc[:3], (base.time[0] / 2,)), 1.0)


# ---------------------------------------------------------------------------- discrimination

@pytest.mark.parametrize("score", ["adjusted_lp", "pnodes", "tsize"])
def test_harrell_c_matches_r_concordance(cohort, fitted, reference, score):
    # concordance(Surv(time, cens) ~ risk, reverse = TRUE); pnodes and tsize have many tied scores
    risk = fitted[2] if score == "adjusted_lp" else cohort.data[score].to_numpy(dtype=float)
    assert_allclose(harrell_c(cohort.time, cohort.event, risk), reference["concordance"][score], rtol=1e-10)


def test_discrimination_matches_scikit_survival(cohort, fitted, design):
    _, base, lp = fitted
    surv_pred = predict_survival(base, design, TIMES)
    result = discrimination(cohort.time, cohort.event, lp, times=TIMES, survival_at_times=surv_pred)
    y = Surv.from_arrays(cohort.event.astype(bool), cohort.time)
    # scikit-survival 0.28, same data as training and test set; exact agreement expected
    # Uno's C follows R (G(t-), events at tau included), not scikit-survival: see the R tests below.
    auc, mean_auc = cumulative_dynamic_auc(y, y, lp, np.array(TIMES))
    assert_allclose(result.auc, auc, rtol=1e-12)
    assert_allclose(result.mean_auc, mean_auc, rtol=1e-12)
    assert_allclose(result.brier, brier_score(y, y, surv_pred, np.array(TIMES))[1], rtol=1e-12)
    assert_allclose(result.integrated_brier, integrated_brier_score(y, y, surv_pred, np.array(TIMES)), rtol=1e-12)
    assert 0.6 < result.uno_c < 0.8 and np.all((result.auc > 0.6) & (result.auc < 0.85))


def test_discrimination_without_survival_has_no_brier(cohort, fitted):
    result = discrimination(cohort.time, cohort.event, fitted[2], times=TIMES)
    assert np.isnan(result.brier).all() and np.isnan(result.integrated_brier)
    d = result.to_dict()
    assert d["brier"] == [None, None, None] and d["integrated_brier"] is None
    json.dumps(d)


@pytest.mark.parametrize("times", [(), (1095.0, 365.0), (365.0, 1e6)])
def test_discrimination_rejects_bad_times(cohort, fitted, times):
    with pytest.raises(ModelError, match="times"):
        discrimination(cohort.time, cohort.event, fitted[2], times=times)


# ------------------------------------------------------------------------------ calibration

def test_calibration_groups_are_kaplan_meier_by_predicted_risk(cohort, fitted, design):
    _, base, _ = fitted
    predicted = predict_survival(base, design, (1825.0,))[:, 0]
    result = calibration_at(cohort.time, cohort.event, predicted, 1825.0, groups=5)
    assert [g.n for g in result.groups] == [138, 137, 137, 137, 137]
    order = np.argsort(-predicted, kind="stable")
    first = order[:138]
    km = KaplanMeierFitter().fit(cohort.time[first], cohort.event[first])  # lifelines 0.30
    assert_allclose(result.groups[0].observed, km.survival_function_at_times(1825.0).iloc[0], rtol=1e-10)
    assert_allclose(result.groups[0].predicted, predicted[first].mean(), rtol=1e-12)
    assert all(g.lower <= g.observed <= g.upper for g in result.groups)
    # lowest predicted risk first
    assert result.groups[0].predicted > result.groups[-1].predicted
    assert result.groups[0].observed > result.groups[-1].observed


def test_calibration_slope_is_one_on_the_fitting_data_and_two_for_halved_lp(cohort, fitted, design):
    # log(-log S(t|x)) = lp + log H0(t): refitting the outcome on it returns the Cox MLE, slope 1;
    # predictions from lp / 2 are too flat by a factor 2.
    fit, base, lp = fitted
    predicted = predict_survival(base, design, (1825.0,))[:, 0]
    assert_allclose(calibration_at(cohort.time, cohort.event, predicted, 1825.0).slope, 1.0, rtol=1e-6)
    flat = np.exp(-base.at(np.array([1825.0]))[0] * np.exp((lp - lp.mean()) / 2))
    assert_allclose(calibration_at(cohort.time, cohort.event, flat, 1825.0).slope, 2.0, rtol=1e-6)


def test_calibration_rejects_probabilities_outside_0_1(cohort):
    with pytest.raises(ModelError, match="between 0 and 1"):
        calibration_at(cohort.time, cohort.event, np.ones(cohort.time.size), 1825.0)


# ----------------------------------------------------------------------------- bootstrap

@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_bootstrap_fitter_matches_fit_cox(cohort, design, ties):
    # the vectorised Newton-Raphson behind the bootstrap against statsmodels PHReg via fit_cox
    full = fit_cox(cohort.time, cohort.event, design, ties=ties)
    coef, loglik, loglik_null = _fit(cohort.time, cohort.event, design.matrix.to_numpy(dtype=float), ties)
    assert_allclose(coef, full.coef, rtol=1e-8)
    assert_allclose([loglik, loglik_null], [full.log_likelihood, full.log_likelihood_null], rtol=1e-12)


def test_bootstrap_apparent_indexes_match_rms(boot, reference):
    # rms::validate(cph(f, x = TRUE, y = TRUE, surv = TRUE, eps = 1e-8), B = 200)$index.orig
    ref = reference["validate"]
    assert_allclose(boot.indexes["Dxy"].apparent, ref["Dxy"]["index_orig"], rtol=1e-6)
    assert_allclose(boot.indexes["R2"].apparent, ref["R2"]["index_orig"], rtol=1e-6)
    assert boot.indexes["Slope"].apparent == ref["Slope"]["index_orig"] == 1
    assert boot.indexes["Slope"].training == 1


@pytest.mark.parametrize("index", ["Dxy", "R2", "Slope"])
def test_bootstrap_optimism_within_monte_carlo_error_of_rms(boot, reference, index):
    # Bootstrap samples differ from R's, so optimism is compared within Monte-Carlo error: our
    # and R's estimates are independent means of B = 200 replicates with the same spread, so the
    # SE of their difference is sqrt(2) times ours (SD of training - test over sqrt(B)); allow 3.
    ours, theirs = boot.indexes[index], reference["validate"][index]
    assert ours.n == theirs["n"] == 200
    assert abs(ours.optimism - theirs["optimism"]) < 3 * np.sqrt(2) * ours.optimism_se
    assert_allclose(ours.corrected, ours.apparent - ours.optimism, rtol=1e-12)


def test_bootstrap_c_and_dictionary(boot, reference):
    assert_allclose(boot.c_corrected, boot.indexes["Dxy"].corrected / 2 + 0.5, rtol=1e-12)
    assert_allclose(boot.c_apparent, reference["concordance"]["adjusted_lp"], rtol=1e-10)
    d = boot.to_dict()
    assert d["B"] == 200 and d["seed"] == 1 and d["slope_apparent"] == 1.0
    assert set(d["dxy"]) == {"apparent", "training", "test", "optimism", "corrected", "optimism_se", "n"}
    json.dumps(d)


def test_bootstrap_is_reproducible_and_reports_progress(cohort, design, capsys):
    calls = []
    first = bootstrap_validate(cohort.time, cohort.event, design, B=5, seed=7, progress=lambda i, n: calls.append((i, n)))
    again = bootstrap_validate(cohort.time, cohort.event, design, B=5, seed=np.random.default_rng(7), progress=None)
    assert calls == [(i, 5) for i in range(1, 6)]
    assert first.indexes == again.indexes and again.seed is None
    # stderr is not a terminal under pytest: no bar, nothing printed
    assert capsys.readouterr() == ("", "")


def test_failed_fit_on_original_data_is_a_model_error(cohort):
    x = np.column_stack([np.ones(cohort.time.size), np.ones(cohort.time.size)])
    with pytest.raises(ModelError, match="original data"):
        bootstrap_validate(cohort.time, cohort.event, x, B=2)


# ------------------------------------------------------------------------- EPV and summary

def test_events_per_variable_warns_below_ten():
    assert events_per_variable(299, 9) == pytest.approx(299 / 9)
    with pytest.warns(ConvergenceWarning, match="events per model term"):
        assert events_per_variable(45, 5) == 9.0


def test_summary_to_dict_has_the_agreed_keys(cohort, design):
    summary = validate_cox(cohort.time, cohort.event, design, times=TIMES, B=3, seed=1)
    d = summary.to_dict()
    assert set(d) == {"harrell_c", "uno_c", "times", "auc", "brier", "integrated_brier", "calibration",
                      "bootstrap", "events_per_variable"}
    assert d["times"] == list(TIMES) and len(d["auc"]) == len(d["brier"]) == 3
    assert d["calibration"]["time"] == 1825.0 and len(d["calibration"]["groups"]) == 10
    assert set(d["calibration"]["groups"][0]) == {"n", "predicted", "observed", "lower", "upper"}
    assert {"B", "seed", "c_apparent", "c_optimism", "c_corrected", "slope_apparent", "slope_optimism",
            "slope_corrected", "dxy"} <= set(d["bootstrap"])
    json.loads(json.dumps(d, allow_nan=False))


# ------------------------------------------------- an independent reference: 8 patients by hand
#
# The tests above compare discrimination() with the scikit-survival functions it calls. Here the
# expected values are worked out by hand from the definitions. Times are distinct (no event ties a
# censoring), so G(t) and G(t-) coincide. In time order:
#
#   time   2    3    4    5    6    7    8    9
#   event  1    0    1    1    0    1    0    0
#   risk   0.9  0.2  0.6  0.8  0.1  0.3  0.7  0.05
#
# Censoring distribution G (Kaplan–Meier of the censorings): 1 until 3, then 6/7 (7 at risk),
# 9/14 after 6 (4 at risk), 9/28 after 8, 0 after 9. So G(2) = 1, G(4) = G(5) = 6/7, G(7) = 9/14,
# G(4.5) = 6/7, G(6.5) = 9/14.
HAND_TIME = np.arange(2.0, 10.0)
HAND_EVENT = np.array([1, 0, 1, 1, 0, 1, 0, 0])
HAND_RISK = np.array([0.9, 0.2, 0.6, 0.8, 0.1, 0.3, 0.7, 0.05])
HAND_TIMES = (4.5, 6.5)
# Predicted S(t | x) at 4.5 and 6.5, one row per patient (any numbers in [0, 1] do for the formula).
HAND_SURVIVAL = np.array([[0.5, 0.4], [0.9, 0.85], [0.7, 0.6], [0.6, 0.5], [0.95, 0.9], [0.85, 0.8],
                          [0.75, 0.65], [0.97, 0.95]])


def test_harrell_c_by_enumerating_pairs():
    # Comparable pairs: an event and anyone followed longer. Concordant: the event has the higher risk.
    #   event at 2 (0.9) vs 7 later patients: 7 concordant
    #   event at 4 (0.6) vs 0.8, 0.1, 0.3, 0.7, 0.05: 3 concordant of 5
    #   event at 5 (0.8) vs 0.1, 0.3, 0.7, 0.05: 4 of 4
    #   event at 7 (0.3) vs 0.7, 0.05: 1 of 2
    # C = 15 / 18. R: concordance(Surv(time, status) ~ risk, reverse = TRUE) gives 0.8333333 too.
    assert harrell_c(HAND_TIME, HAND_EVENT, HAND_RISK) == pytest.approx(15 / 18, rel=1e-12)


def test_uno_c_auc_and_brier_by_their_formulas():
    result = discrimination(HAND_TIME, HAND_EVENT, HAND_RISK, times=HAND_TIMES, survival_at_times=HAND_SURVIVAL)
    # Uno's C, tau = 6.5: sum over events i with T_i <= tau of G(T_i)^-2 x (concordant | comparable pairs).
    # Events at 2, 4, 5 (the one at 7 is beyond tau), weights 1, 49/36, 49/36:
    #   numerator   7 + 49/36 (3 + 4) = 595/36;  denominator 7 + 49/36 (5 + 4) = 693/36;  C = 85/99.
    # R: concordance(..., reverse = TRUE, timewt = "n/G2", ymax = 6.5) gives 0.8585859 too.
    assert result.tau == 6.5
    assert result.uno_c == pytest.approx(85 / 99, rel=1e-12)
    # Cumulative/dynamic AUC(t): cases T_i <= t with an event, weight 1/G(T_i); controls T_j > t.
    #   t = 4.5: cases 2 (w 1, beats all 5 controls), 4 (w 7/6, beats 0.1, 0.3, 0.05: 3 of 5)
    #            AUC = (5 + 7/6 * 3) / (5 (1 + 7/6)) = 51/65
    #   t = 6.5: cases 2 (w 1, 3 of 3), 4 (7/6, beats 0.3, 0.05: 2 of 3), 5 (7/6, 3 of 3); controls 7, 8, 9
    #            AUC = (3 + 7/6 * 2 + 7/6 * 3) / (3 (1 + 7/6 + 7/6)) = 53/60
    assert_allclose(result.auc, [51 / 65, 53 / 60], rtol=1e-12)
    # Brier(t) = mean of S(t|x)^2 / G(T_i) for events by t, (1 - S(t|x))^2 / G(t) for those beyond t,
    # 0 for those censored by t (Graf et al. 1999).
    #   t = 4.5: events 2, 4: 0.5^2 / 1 + 0.7^2 / (6/7); beyond: (0.4^2 + 0.05^2 + 0.15^2 + 0.25^2 + 0.03^2) / (6/7)
    brier_45 = (0.25 + 0.49 * 7 / 6 + 0.2484 * 7 / 6) / 8
    #   t = 6.5: events 2, 4, 5: 0.4^2 + (0.6^2 + 0.5^2) / (6/7); beyond 7, 8, 9: (0.2^2 + 0.35^2 + 0.05^2) / (9/14)
    brier_65 = (0.16 + 0.61 * 7 / 6 + 0.165 * 14 / 9) / 8
    assert_allclose(result.brier, [brier_45, brier_65], rtol=1e-12)
    # Integrated Brier: trapezoid over [4.5, 6.5] divided by its length, here the mean of the two.
    assert result.integrated_brier == pytest.approx((brier_45 + brier_65) / 2, rel=1e-12)


# ------------------------------------------ Uno's C against R survival::concordance(timewt = "n/G2")

@pytest.fixture(scope="module")
def uno_reference():
    """tests/fixtures/uno_concordance/make_reference.R (R 4.2.2, survival 3.5.3), GBSG2 adjusted model."""
    return json.loads((FIXTURES / "uno_concordance" / "reference.json").read_text())


@pytest.mark.parametrize("index", [0, 1])
def test_uno_c_matches_r_concordance_n_g2_without_event_censoring_ties(cohort, uno_reference, index):
    # concordance(Surv(time, cens) ~ lp, reverse = TRUE, timewt = "n/G2", ymax = tau), every censored
    # time moved 0.001 day later so that no censoring ties an event (R is unchanged by the shift).
    tau = uno_reference["tau"][index]
    untied = cohort.time + np.where(cohort.event == 0, uno_reference["censored_shift_days"], 0.0)
    result = discrimination(untied, cohort.event, np.array(uno_reference["lp"]), times=(tau,))
    assert_allclose(result.uno_c, uno_reference["uno_untied"][index], rtol=1e-9)


@pytest.mark.parametrize("index", [0, 1])
def test_uno_c_matches_r_concordance_n_g2_with_ties(cohort, uno_reference, index):
    # GBSG2 has 35 times where an event and a censoring tie: R weights the event by G(t-), the
    # censorings at t counted after it (scikit-survival's G(t) gave 0.681690 against R's 0.681745).
    tau = uno_reference["tau"][index]
    result = discrimination(cohort.time, cohort.event, np.array(uno_reference["lp"]), times=(tau,))
    assert_allclose(result.uno_c, uno_reference["uno"][index], rtol=1e-8)


@pytest.fixture(scope="module")
def uno_edges():
    """tests/fixtures/uno_concordance/edges.R (R 4.2.2, survival 3.5.3): 16 patients, 4 truncation times."""
    return json.loads((FIXTURES / "uno_concordance" / "edges.json").read_text())


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_uno_c_at_r_edges(uno_edges, index):
    # An event exactly at tau counts (R zeroes the weight only for event times > ymax), a censoring
    # tied with an event comes after it, tied risks count 1/2 and tied event times are no pair.
    tau = uno_edges["tau"][index]
    time, event, risk = (np.array(uno_edges[k], dtype=float) for k in ("time", "status", "risk"))
    with warnings.catch_warnings():
        # The AUC at 9.5 needs G at the longest follow-up (10, censoring tied with an event): a note.
        warnings.simplefilter("ignore", PrognosisWarning)
        result = discrimination(time, event, risk, times=(tau,))
    assert_allclose(result.uno_c, uno_edges["uno"][index], rtol=1e-10)


def test_uno_c_by_hand_with_an_event_at_tau_tied_with_a_censoring():
    # time 1 2 2 3, status 1 1 0 1, risk 3 1 2 0, tau = 2. Reverse KM of the censoring, censorings
    # tied with events counted after them: G(1-) = G(2-) = 1 (the censoring at 2 comes after the
    # event at 2). Events by tau: at 1 (comparable with 2, 2, 3: concordant 3) and at 2 (comparable
    # with the censoring at 2, risk 2 > 1: discordant, and with 3, risk 0 < 1: concordant).
    # C = (3 + 1) / (3 + 2) = 0.8. R concordance(..., timewt = "n/G2", ymax = 2) gives 0.8 too.
    time, event, risk = np.array([1.0, 2, 2, 3]), np.array([1.0, 1, 0, 1]), np.array([3.0, 1, 2, 0])
    assert discrimination(time, event, risk, times=(2.0,)).uno_c == pytest.approx(0.8, rel=1e-12)


def test_calibration_before_the_first_event_names_validation_times(cohort, design):
    # GBSG2's first event is at 72 days: at 60 days every predicted survival is 1 and there is
    # nothing to calibrate; the error (which becomes the section's not-computed reason) names the
    # spec key to change, and quotes no follow-up time of a patient (72 must not appear).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrognosisWarning)
        with pytest.raises(ModelError, match=r"validation\.times") as caught:
            validate_cox(cohort.time, cohort.event, design, times=(60.0,), B=2)
    assert "calibration at 60" in str(caught.value) and "72" not in str(caught.value)
