"""prognosis.stats.validation, discrimination and bootstrap against R (survival, rms) and scikit-survival.

Reference values: tests/fixtures/validation/reference.json, written by make_reference.R there
(R 4.2.2, survival 3.5.3, rms 6.5.0) on tests/fixtures/gbsg2/gbsg2.csv.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from numpy.testing import assert_allclose
from sksurv.metrics import brier_score, concordance_index_ipcw, cumulative_dynamic_auc, integrated_brier_score
from sksurv.util import Surv

from prognosis.cohort import assemble_cohort, read_table
from prognosis.errors import ConvergenceWarning, ModelError
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
    assert_allclose(result.uno_c, concordance_index_ipcw(y, y, lp, tau=TIMES[-1])[0], rtol=1e-12)
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
