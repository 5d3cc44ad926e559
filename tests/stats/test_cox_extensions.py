"""Strata, robust/cluster variance, interactions, subgroups and fit_cox's error messages, against R survival."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from statsmodels.duration.hazard_regression import PHReg

from prognosis.cohort.variable import Variable
from prognosis.dictionary.model import ColumnSpec
from prognosis.errors import ModelError, PrognosisWarning
from prognosis.stats.cox import fit_cox, score_residuals
from prognosis.stats.design import Design, check_rank, design_matrix
from prognosis.stats.subgroups import subgroup_analysis

HERE = Path(__file__).resolve().parents[1] / "fixtures" / "cox_extensions"
# R 4.2.2, survival 3.5.3 (tests/fixtures/cox_extensions/make_reference.R). Estimates agree to
# ~1e-10; R stops Newton-Raphson at a relative loglik change of 1e-9, so tiny coefficients
# (age ~ -4e-5 in the stratified model) differ by ~1e-7 relative, hence the atol on coef.
RTOL = 1e-6


def _categorical(name, levels):
    return Variable(name, ColumnSpec(name, "categorical", levels=tuple(levels)), "t", levels[0])


def _numeric(name):
    return Variable(name, ColumnSpec(name, "numeric"), "t")


V = {"horTh": _categorical("horTh", ["no", "yes"]), "menostat": _categorical("menostat", ["Post", "Pre"]),
     "tgrade": _categorical("tgrade", ["I", "II", "III"]), "sex": _categorical("sex", ["f", "m"]),
     **{name: _numeric(name) for name in ("age", "tsize", "pnodes", "rx")}}


@pytest.fixture(scope="module")
def reference():
    return json.loads((HERE / "reference.json").read_text())


@pytest.fixture(scope="module")
def rats():
    return pd.read_csv(HERE / "rats.csv")


def _fit(data, names, *, time="time", event="cens", interactions=(), **options):
    design = design_matrix(data, [V[n] for n in names], interactions=interactions)
    return fit_cox(data[time].to_numpy(), data[event].to_numpy(), design, **options)


def _check(result, expected, *, robust=False):
    assert list(result.terms) == expected["term_order"]
    for i, term in enumerate(result.terms):
        ref = expected["terms"][term]
        assert_allclose(result.coef[i], ref["coef"], rtol=RTOL, atol=1e-9, err_msg=term)
        assert_allclose(result.se[i], ref["se"], rtol=RTOL, err_msg=term)
        assert_allclose(result.naive_se[i], ref["naive_se"], rtol=RTOL, err_msg=term)
        assert_allclose(result.conf_int[i], [ref["lower"], ref["upper"]], rtol=RTOL, err_msg=term)
        assert_allclose(result.p_value[i], ref["p"], rtol=1e-5, err_msg=term)
        if robust:
            assert_allclose(result.robust_se[i], ref["robust_se"], rtol=RTOL, err_msg=term)
    assert (result.robust_se is not None) == robust
    assert_allclose(result.log_likelihood, expected["loglik"], rtol=1e-10)
    assert_allclose(result.log_likelihood_null, expected["loglik_null"], rtol=1e-10)
    assert_allclose(result.concordance, expected["concordance"], rtol=1e-8)
    assert result.n == expected["n"] and result.n_events == expected["nevent"]


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_strata_match_coxph(gbsg2, reference, ties):
    # coxph(Surv(time, cens) ~ horTh + age + pnodes + strata(tgrade), ties = ties); C within strata
    result = _fit(gbsg2, ["horTh", "age", "pnodes"], strata=gbsg2["tgrade"].to_numpy(), ties=ties)
    _check(result, reference["cox"]["strata" if ties == "efron" else "strata_breslow"])
    assert result.n_strata == 3


@pytest.mark.parametrize("name, names, options", [
    ("robust", ["horTh", "age", "menostat", "tsize", "tgrade", "pnodes"], {}),
    ("robust_breslow", ["horTh", "age", "pnodes"], {"ties": "breslow"}),
    ("robust_strata", ["horTh", "age", "pnodes"], {"strata": "menostat"}),
])
def test_robust_variance_matches_coxph(gbsg2, reference, name, names, options):
    # coxph(..., robust = TRUE): se, CI and p use the robust SE as summary.coxph does
    if "strata" in options:
        options = {**options, "strata": gbsg2[options["strata"]].to_numpy()}
    result = _fit(gbsg2, names, robust=True, **options)
    _check(result, reference["cox"][name], robust=True)
    entry = result.to_dict()["terms"]["horTh[yes]"]
    assert entry["robust_se"] == entry["se"] != entry["naive_se"]
    assert result.variance == "robust" and result.n_clusters == len(gbsg2)


def test_cluster_variance_matches_coxph(rats, reference):
    # coxph(Surv(time, status) ~ rx + sex, data = rats, cluster = litter): 100 litters of 3
    result = _fit(rats, ["rx", "sex"], event="status", cluster=rats["litter"].to_numpy())
    _check(result, reference["cox"]["cluster_rats"], robust=True)
    assert result.n_clusters == 100


def test_score_residuals_match_statsmodels_with_breslow_ties(gbsg2):
    # statsmodels' PHReg.score_residuals (Breslow handling of ties) as an independent check
    x = design_matrix(gbsg2, [V["horTh"], V["age"], V["pnodes"]]).matrix.to_numpy(dtype=float)
    time, event = gbsg2["time"].to_numpy(float), gbsg2["cens"].to_numpy(float)
    model = PHReg(time, x, status=event, ties="breslow")
    coef = model.fit().params
    mine, theirs = score_residuals(time, event, x, coef, ties="breslow"), model.score_residuals(coef)
    # statsmodels leaves NaN for patients censored before the first event (in no risk set at an
    # event time); their residual is 0, as R's residuals(fit, "score") gives
    before_first = time < time[event == 1].min()
    assert before_first.any() and np.isnan(theirs[before_first]).all()
    assert_allclose(mine[~before_first], theirs[~before_first], rtol=1e-9, atol=1e-12)
    assert_allclose(mine[before_first], 0.0)


def test_model_based_fit_has_no_robust_se(gbsg2):
    result = _fit(gbsg2, ["horTh"])
    assert result.robust_se is None and "robust_se" not in result.to_dict()["terms"]["horTh[yes]"]
    assert_allclose(result.naive_se, result.se)


@pytest.mark.parametrize("name, names, pair", [
    ("interaction_cat_cat", ["horTh", "menostat"], ("horTh", "menostat")),
    ("interaction_cat_3", ["horTh", "tgrade", "age"], ("horTh", "tgrade")),
    ("interaction_num_cat", ["age", "horTh"], ("age", "horTh")),
    ("interaction_num_num", ["age", "tsize", "horTh"], ("age", "tsize")),
])
def test_interactions_match_coxph(gbsg2, reference, name, names, pair):
    # coxph(Surv(time, cens) ~ a * b (+ ...)): term names and order as R's model.matrix
    _check(_fit(gbsg2, names, interactions=[pair]), reference["cox"][name])


def test_interaction_terms_are_recorded_and_dropped_with_their_main_effect(gbsg2):
    design = design_matrix(gbsg2, [V["horTh"], V["tgrade"]], interactions=[("horTh", "tgrade")])
    assert design.terms_of["horTh:tgrade"] == ("horTh[yes]:tgrade[II]", "horTh[yes]:tgrade[III]")
    assert design.without("horTh").terms == ("tgrade[II]", "tgrade[III]")
    assert design.without("horTh:tgrade").terms == ("horTh[yes]", "tgrade[II]", "tgrade[III]")


def test_interaction_with_an_empty_cell_is_left_out(gbsg2):
    data = gbsg2[~((gbsg2["horTh"] == "yes") & (gbsg2["tgrade"] == "III"))]
    with pytest.warns(PrognosisWarning, match=r"horTh\[yes\]:tgrade\[III\] is left out"):
        design = design_matrix(data, [V["horTh"], V["tgrade"]], interactions=[("horTh", "tgrade")])
    assert design.terms_of["horTh:tgrade"] == ("horTh[yes]:tgrade[II]",)


def test_interaction_needs_its_main_effects(gbsg2):
    with pytest.raises(ModelError, match="tgrade is not a variable of the model"):
        design_matrix(gbsg2, [V["horTh"]], interactions=[("horTh", "tgrade")])


def test_subgroups_match_coxph_on_subsets(gbsg2, reference):
    # coxph(~ horTh) and coxph(~ horTh + age + tsize + pnodes) on each subset; interaction p from
    # anova(coxph(~ horTh + f (+ covs)), coxph(~ horTh * f (+ covs))), likelihood-ratio test
    result = subgroup_analysis(gbsg2, V["horTh"], [V["menostat"], V["tgrade"]],
                               covariates=[V["age"], V["tsize"], V["pnodes"]], time="time", event="cens")
    out = result.to_dict()
    assert out["marker"] == "horTh" and list(out["subgroups"]) == ["menostat", "tgrade"]
    for factor, expected in reference["subgroups"].items():
        got = out["subgroups"][factor]
        assert_allclose(got["interaction_p"], expected["interaction_p"], rtol=1e-6)
        assert_allclose(got["interaction_statistic"], expected["interaction_chisq"], rtol=1e-6)
        assert got["interaction_df"] == expected["interaction_df"]
        assert_allclose(got["interaction_p_adjusted"], expected["interaction_p_adjusted"], rtol=1e-6)
        assert list(got["levels"]) == list(expected["levels"])
        for level, ref in expected["levels"].items():
            mine = got["levels"][level]
            assert (mine["n"], mine["events"]) == (ref["n"], ref["events"])
            for key in ("hazard_ratio", "lower", "upper", "p"):
                assert_allclose(mine[key], ref[key], rtol=1e-6, err_msg=f"{factor}={level} {key}")
                assert_allclose(mine["adjusted"][key], ref["adjusted"][key], rtol=1e-6, err_msg=f"{factor}={level}")
    json.dumps(out)


def test_subgroup_without_events_is_reported_not_fatal(gbsg2):
    data = gbsg2.iloc[:250]  # small, as the failing fits run to the iteration limit
    event = np.where((data["tgrade"] == "I").to_numpy(), 0, data["cens"].to_numpy())
    with pytest.warns(PrognosisWarning) as record:
        result = subgroup_analysis(data.assign(cens=event), V["horTh"], [V["tgrade"]], time="time", event="cens",
                                   ties="breslow")
    messages = [str(w.message) for w in record]
    assert any("subgroup tgrade = I" in m for m in messages)
    assert any("interaction test horTh:tgrade cannot be computed" in m for m in messages)
    tgrade = result.to_dict()["subgroups"]["tgrade"]
    assert tgrade["levels"]["I"]["events"] == 0 and tgrade["levels"]["I"]["hazard_ratio"] is None
    assert tgrade["interaction_p"] is None and tgrade["levels"]["II"]["hazard_ratio"] > 0


def test_subgroup_marker_must_have_one_term(gbsg2):
    with pytest.raises(ModelError, match="tgrade gives 2 terms"):
        subgroup_analysis(gbsg2, V["tgrade"], [V["horTh"]], time="time", event="cens")


def test_collinear_terms_are_named(gbsg2):
    data = gbsg2.assign(pnodes=gbsg2["tsize"] * 2.0 + 1.0)
    with pytest.raises(ModelError, match=r"\{tsize, pnodes\} are collinear"):
        _fit(data, ["horTh", "tsize", "pnodes"])


def test_interaction_collinear_with_a_main_effect_is_named(gbsg2):
    # every treated patient is premenopausal: horTh[yes]:menostat[Pre] equals horTh[yes]
    data = gbsg2.assign(menostat=np.where(gbsg2["horTh"] == "yes", "Pre", gbsg2["menostat"]))
    with pytest.raises(ModelError, match=r"horTh\[yes\], horTh\[yes\]:menostat\[Pre\]\} are collinear"):
        _fit(data, ["horTh", "menostat"], interactions=[("horTh", "menostat")])


def test_constant_column_is_named_by_check_rank():
    design = Design(pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1.0, 1.0, 1.0]}), {"a": ("a",), "b": ("b",)},
                    {"a": None, "b": None})
    with pytest.raises(ModelError, match="^b takes a single value"):
        check_rank(design)


def test_non_convergence_is_an_error(gbsg2):
    with pytest.raises(ModelError, match="did not converge in 1 iterations"):
        _fit(gbsg2, ["horTh", "age", "pnodes"], max_iter=1)


def test_separation_within_strata_names_the_term(gbsg2):
    data = gbsg2.iloc[:250]
    event = np.where(data["horTh"] == "yes", 0.0, data["cens"])
    with pytest.raises(ModelError, match=r"horTh\[yes\].*monotone likelihood"):
        _fit(data.assign(cens=event), ["horTh", "age"], strata=data["tgrade"].to_numpy(), ties="breslow")


@pytest.mark.parametrize("cluster, message", [(np.arange(5), "one value per patient"),
                                              (np.full(686, np.nan), "missing values")])
def test_bad_cluster_is_rejected(gbsg2, cluster, message):
    with pytest.raises(ModelError, match=message):
        _fit(gbsg2, ["horTh"], cluster=cluster)
