"""Probabilistic bias analysis of a misclassified binary marker (prognosis/stats/misclassification.py).

No R reference exists for this analysis of a Cox model (episensr, for 2×2 tables, is not installed),
so the checks are: predictive values by hand on a 2×2 table, the identity at Se = Sp = 1, recovery
of a known hazard ratio in simulated cohorts, and the counting of impossible draws.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from prognosis.errors import ModelError
from prognosis.stats.cox_engine import newton_cox
from prognosis.stats.misclassification import Distribution, misclassification_bias_analysis, predictive_values

FIXED_PERFECT = Distribution("fixed", (1.0,))


def simulate(seed: int, *, n: int = 2000, hazard_ratio: float = 2.0, sensitivity: float = 0.8,
             specificity: float = 0.9) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exponential survival with a true binary marker (prevalence 0.3) and a normal covariate,
    uniform censoring; the observed marker misclassified with the given Se and Sp."""
    rng = np.random.default_rng(seed)
    truth = (rng.random(n) < 0.3).astype(float)
    age = rng.normal(size=n)
    rate = 0.1 * np.exp(np.log(hazard_ratio) * truth + 0.3 * age)
    death = rng.exponential(1 / rate)
    censor = rng.uniform(0, 10, n)
    time, event = np.minimum(death, censor), (death <= censor).astype(float)
    u = rng.random(n)
    observed = np.where(truth == 1, u < sensitivity, u >= specificity).astype(float)
    return time, event, np.column_stack([observed, age]), truth


def test_predictive_values_by_hand_on_a_2x2_table():
    # 1,000 patients, 200 called positive; Se = 0.8, Sp = 0.9.
    # True positives A solve a = Se A + (1 - Sp)(n - A): 200 = 0.8 A + 0.1 (1000 - A) -> 0.7 A = 100,
    # A = 142.857...; true negatives 857.142...
    # Observed positives that are true positives: Se A = 114.2857 -> PPV = 114.2857 / 200 = 0.5714286.
    # Observed negatives that are true negatives: Sp (n - A) = 771.4286 -> NPV = 771.4286 / 800 = 0.9642857.
    ppv, npv = predictive_values(0.8, 0.9, 200, 1000)
    assert_allclose(ppv, 0.8 * (100 / 0.7) / 200, rtol=1e-12)
    assert_allclose(npv, 0.9 * (1000 - 100 / 0.7) / 800, rtol=1e-12)
    assert_allclose([ppv, npv], [0.5714285714, 0.9642857143], rtol=1e-9)
    # Both Se and Sp perfect: every call is right.
    assert_allclose(predictive_values(1.0, 1.0, 200, 1000), [1.0, 1.0])


def test_impossible_sensitivity_specificity_give_nan():
    # Sp = 0.7 means 30% of 1,000 true negatives alone would be called positive, more than the 200 observed
    # positives: the corrected count of true positives is negative.
    ppv, npv = predictive_values(np.array([0.9, 0.8, 0.4]), np.array([0.7, 0.9, 0.5]), 200, 1000)
    assert np.isnan(ppv[0]) and np.isnan(npv[0])
    assert np.isfinite(ppv[1]) and np.isfinite(npv[1])
    assert np.isnan(ppv[2])  # Se + Sp <= 1: the calls carry no information


def test_perfect_classification_reproduces_the_conventional_hazard_ratio_in_every_draw():
    time, event, x, _ = simulate(3, n=600)
    result = misclassification_bias_analysis(time, event, x, 0, sensitivity=FIXED_PERFECT,
                                             specificity=FIXED_PERFECT, draws=20, seed=2)
    conventional = np.exp(newton_cox(time, event, x).coef[0])
    assert result.draws_used == 20 and result.draws_discarded == 0
    assert np.all(result.hazard_ratios == conventional)
    assert result.median_systematic == conventional
    assert result.conventional_hazard_ratio == conventional


def test_imperfect_classification_moves_the_draws():
    time, event, x, _ = simulate(3, n=600)
    result = misclassification_bias_analysis(time, event, x, 0, sensitivity=Distribution("fixed", (0.9,)),
                                             specificity=Distribution("fixed", (0.95,)), draws=20, seed=2)
    assert np.unique(result.hazard_ratios).size > 10
    assert result.median_systematic > result.conventional_hazard_ratio  # correction moves away from 1


def test_bias_analysis_recovers_the_true_hazard_ratio():
    # True HR 2.0, marker misclassified with Se 0.8 and Sp 0.9 (non-differential), n = 2,000 (~850 events).
    # MONTE CARLO, measured over seeds 100-119 when this test was written (draws 200, 4 time groups), on the
    # log scale, each against the fit with the true marker on the same data (paired, which removes most of
    # the sampling noise): naive - true-marker fit -0.206 (SD 0.048); bias analysis - true-marker fit
    # -0.015 (SD 0.078); bias analysis - log 2: -0.037 (SD 0.112). With event status alone as the
    # outcome groups (time_groups=1, Fox et al.'s 2x2 setting) the last was -0.128: under-corrected.
    # The mean of three seeds has a third of the variance, so the paired bounds below are 3-4 SDs wide:
    # naive attenuation below -0.1 (expected -0.21, SD 0.028), correction within 0.15 of the true-marker
    # fit (expected -0.015, SD 0.045) and within 0.25 of log 2 (expected -0.037, SD 0.065).
    se, sp = Distribution("fixed", (0.8,)), Distribution("fixed", (0.9,))
    naive, corrected, true_fit, by_event_only = [], [], [], []
    for seed in (11, 12, 13):
        time, event, x, truth = simulate(seed)
        result = misclassification_bias_analysis(time, event, x, 0, sensitivity=se, specificity=sp, draws=200,
                                                 seed=seed)
        naive.append(np.log(result.conventional_hazard_ratio))
        corrected.append(np.log(result.median_systematic))
        true_fit.append(newton_cox(time, event, np.column_stack([truth, x[:, 1]])).coef[0])
        assert result.draws_discarded == 0
        lower, upper = result.interval_total
        assert lower <= result.median_systematic <= upper
        # Random error widens the interval (by at least 0.22 in each of 12 seeds when measured).
        assert (result.interval_total[1] - result.interval_total[0]
                > result.interval_systematic[1] - result.interval_systematic[0])
        event_only = misclassification_bias_analysis(time, event, x, 0, sensitivity=se, specificity=sp, draws=200,
                                                     seed=seed, time_groups=1)
        by_event_only.append(np.log(event_only.median_systematic))
    naive, corrected, true_fit, by_event_only = map(np.array, (naive, corrected, true_fit, by_event_only))
    # Event status alone under-corrects: paired log(4 groups / 1 group) was 0.098 on average (SD 0.027,
    # smallest 0.064) over seeds 100-111, so the mean of three seeds (SD 0.016) exceeds 0.03.
    assert np.mean(corrected - by_event_only) > 0.03
    assert np.mean(naive - true_fit) < -0.1  # misclassification biases the naive HR toward 1
    assert abs(np.mean(corrected - true_fit)) < 0.15
    assert abs(np.mean(corrected) - np.log(2.0)) < 0.25


def test_impossible_draws_are_discarded_and_counted():
    time, event, x, _ = simulate(5, n=800)
    prevalence = x[:, 0].mean()
    # Sp uniform-ish on 0.5-1.0: where 1 - Sp exceeds the observed prevalence in either event group,
    # the corrected counts are negative.
    specificity = Distribution("trapezoid", (0.5, 0.5, 1.0, 1.0))
    sensitivity = Distribution("fixed", (0.8,))
    result = misclassification_bias_analysis(time, event, x, 0, sensitivity=sensitivity, specificity=specificity,
                                             draws=300, seed=4, time_groups=1)
    # With one time group the outcome groups are the patients with and without the event. Recompute which draws are impossible from the same random stream: Se (fixed) takes none of it,
    # so the first 300 uniforms of the seed are Sp's.
    sp = specificity.draw(np.random.default_rng(4), 300)
    groups = [event == 1, event != 1]
    expected = np.zeros(300, dtype=bool)
    for g in groups:
        expected |= np.isnan(predictive_values(0.8, sp, int(x[g, 0].sum()), int(g.sum()))[0])
    assert 0 < expected.sum() < 300 and prevalence < 0.5
    assert result.draws_discarded == int(expected.sum())
    assert result.draws_used + result.draws_discarded + result.draws_not_fitted == 300


def test_every_draw_impossible_is_a_model_error():
    time, event, x, _ = simulate(5, n=400)
    with pytest.raises(ModelError, match="none of the 10"):
        misclassification_bias_analysis(time, event, x, 0, sensitivity=Distribution("fixed", (0.9,)),
                                        specificity=Distribution("fixed", (0.3,)), draws=10, seed=1)


def test_a_marker_that_is_not_0_1_is_a_model_error():
    time, event, x, _ = simulate(5, n=400)
    with pytest.raises(ModelError, match="0/1"):
        misclassification_bias_analysis(time, event, x, 1, sensitivity=FIXED_PERFECT, specificity=FIXED_PERFECT,
                                        draws=5)


def test_distributions_draw_within_their_support():
    rng = np.random.default_rng(0)
    trapezoid = Distribution("trapezoid", (0.8, 0.85, 0.95, 1.0)).draw(rng, 5000)
    assert trapezoid.min() >= 0.8 and trapezoid.max() <= 1.0
    # The trapezoid's mean, by hand: for a symmetric one, the midpoint 0.9.
    assert abs(trapezoid.mean() - 0.9) < 0.005
    beta = Distribution("beta", (26.0, 4.0)).draw(rng, 5000)
    assert abs(beta.mean() - 26 / 30) < 0.005
    assert Distribution("beta", (26.0, 4.0)).centre == 26 / 30


# --- the spec key (prognosis/spec/options.py) -------------------------------------------------------------

SPEC_MINIMAL = {
    "tables": [{"name": "clinical", "path": "clinical.csv", "dictionary": "clinical.yaml"}],
    "join": "patient_id",
    "endpoint": {"time": {"column": "followup_days", "unit": "days"}, "event": "bc_death"},
    "marker": "casting",
}


def parse_misclassification(value):
    from prognosis.spec import parse_spec

    return parse_spec({**SPEC_MINIMAL, "misclassification": value}).options.misclassification


def test_spec_key_reads_every_form():
    from prognosis.spec.options import DistributionSpec, MisclassificationSpec

    assert parse_spec_default() is None
    read = parse_misclassification({"sensitivity": {"beta": [25, 4]}, "specificity": {"beta": [88, 5]},
                                    "draws": 500, "seed": 3})
    assert read == MisclassificationSpec(DistributionSpec("beta", (25.0, 4.0)), DistributionSpec("beta", (88.0, 5.0)),
                                         draws=500, seed=3, time_groups=4)
    read = parse_misclassification({"sensitivity": 0.9, "specificity": {"trapezoid": [0.8, 0.85, 0.95, 1.0]}})
    assert read.sensitivity == DistributionSpec("fixed", (0.9,))
    assert read.specificity == DistributionSpec("trapezoid", (0.8, 0.85, 0.95, 1.0))
    assert (read.draws, read.seed) == (1000, 1)
    # Validation counts of issue 10's held-out phantoms: casting 25/28 found, 65/92 non-casting called right.
    read = parse_misclassification({"sensitivity": {"true_positive": 25, "false_negative": 3},
                                    "specificity": {"true_negative": 65, "false_positive": 27}})
    assert read.sensitivity == DistributionSpec("beta", (26.0, 4.0), {"true_positive": 25, "false_negative": 3})
    assert read.specificity == DistributionSpec("beta", (66.0, 28.0), {"true_negative": 65, "false_positive": 27})


def parse_spec_default():
    from prognosis.spec import parse_spec

    return parse_spec(SPEC_MINIMAL).options.misclassification


@pytest.mark.parametrize(("value", "match"), [
    ({"specificity": 0.9}, "`sensitivity` is required"),
    ({"sensitivity": 0.9}, "`specificity` is required"),
    ({"sensitivity": 0.9, "specificity": 0.9, "draw": 10}, "unknown key 'draw'.*draws"),
    ({"sensitivity": 0.9, "specificity": 0.9, "draws": 10_001}, "misclassification.draws.*maximum"),
    ({"sensitivity": 0.9, "specificity": 0.9, "draws": 0}, "misclassification.draws"),
    ({"sensitivity": 0.9, "specificity": 0.9, "seed": -1}, "misclassification.seed"),
    ({"sensitivity": 0.9, "specificity": 0.9, "seed": 2**32}, "misclassification.seed.*maximum"),
    ({"sensitivity": 0.9, "specificity": 0.9, "time_groups": 21}, "misclassification.time_groups"),
    ({"sensitivity": 1.2, "specificity": 0.9}, "misclassification.sensitivity: expected a proportion"),
    ({"sensitivity": 0, "specificity": 0.9}, "misclassification.sensitivity.*above 0"),
    ({"sensitivity": float("nan"), "specificity": 0.9}, "misclassification.sensitivity: expected a proportion"),
    ({"sensitivity": True, "specificity": 0.9}, "misclassification.sensitivity"),
    ({"sensitivity": 0.9, "specificity": {"beta": [88, float("inf")]}}, r"specificity.beta\[1\].*finite"),
    ({"sensitivity": 0.9, "specificity": {"beta": [88, -5]}}, r"specificity.beta\[1\].*positive"),
    ({"sensitivity": 0.9, "specificity": {"beta": [88]}}, "specificity.beta: expected a list of 2"),
    ({"sensitivity": 0.9, "specificity": {"beta": [1e7, 5]}}, r"specificity.beta\[0\].*at most"),
    ({"sensitivity": {"trapezoid": [0.9, 0.8, 0.95, 1.0]}, "specificity": 0.9}, "increasing order"),
    ({"sensitivity": {"trapezoid": [0.9, 0.9, 0.9, 0.9]}, "specificity": 0.9}, "minimum below maximum"),
    ({"sensitivity": {"trapezoid": [0.8, 0.85, 0.95, 1.1]}, "specificity": 0.9}, r"trapezoid\[3\]"),
    ({"sensitivity": {"beta": [2, 3], "trapezoid": [0.8, 0.85, 0.95, 1.0]}, "specificity": 0.9}, "give one"),
    ({"sensitivity": {"true_positive": 25}, "specificity": 0.9}, "both counts"),
    ({"sensitivity": {"true_negative": 25, "false_positive": 3}, "specificity": 0.9}, "unknown key 'true_negative'"),
    ({"sensitivity": {"true_positive": 25, "false_negative": -3}, "specificity": 0.9}, "false_negative"),
    ({"sensitivity": {"normal": [0.9, 0.1]}, "specificity": 0.9}, "unknown key 'normal'"),
    ({"sensitivity": "high", "specificity": 0.9}, "expected a proportion or one distribution"),
    ([0.9, 0.9], "expected a mapping"),
])
def test_spec_key_errors_name_the_key(value, match):
    from prognosis.errors import SpecError

    with pytest.raises(SpecError, match=match):
        parse_misclassification(value)


# --- the section, through the pipeline (prognosis/analysis/sections.py) -----------------------------------

def run_study(study):
    import warnings

    from prognosis.analysis.pipeline import run
    from prognosis.spec import load_spec

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run(load_spec(study.save_spec()), progress=False)


def test_section_in_results_json_and_report(study):
    import json

    import jsonschema

    from prognosis.analysis.result import results_schema
    from prognosis.report.html import render_html

    study.spec["misclassification"] = {"sensitivity": 1.0, "specificity": 1.0, "draws": 5, "seed": 1}
    result = run_study(study)
    document = json.loads(result.to_json())
    jsonschema.validate(document, results_schema(), cls=jsonschema.Draft202012Validator)
    section = document["misclassification"]
    # Se = Sp = 1: every draw is the conventional adjusted model of results.json itself.
    adjusted = document["cox"]["adjusted"]["terms"]["casting[yes]"]["hazard_ratio"]
    assert section["systematic"] == {"median": adjusted, "lower": adjusted, "upper": adjusted}
    assert section["conventional"]["hazard_ratio"] == adjusted
    assert (section["draws_used"], section["draws_discarded"]) == (5, 0)
    page = render_html(result, km_png=b"", forest_png=b"")
    assert 'id="misclassification"' in page and "with sensitivity about 1.00 and specificity about 1.00" in page


def test_section_not_computable_is_recorded_and_the_run_goes_on(study):
    study.spec["misclassification"] = {"sensitivity": 0.9, "specificity": 0.2, "draws": 5}
    result = run_study(study)
    assert result.misclassification is None
    assert "none of the 5" in result.reason_not_computed("misclassification")
    assert result.to_dict()["misclassification"]["status"] == "not_computed"


def test_a_marker_that_is_not_binary_is_a_spec_error(study):
    from prognosis.errors import SpecError

    study.spec["marker"] = "n_calcifications"
    study.spec["km"] = {"by": "casting", "times": [1, 2]}
    study.spec["misclassification"] = {"sensitivity": 0.9, "specificity": 0.9, "draws": 5}
    with pytest.raises(SpecError, match="misclassification: applies to a binary marker only.*n_calcifications is numeric"):
        run_study(study)
