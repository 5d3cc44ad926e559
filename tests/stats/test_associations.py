"""prognosis.stats.associations against R chisq.test, fisher.test and glm(binomial) on GBSG2.

Reference: tests/fixtures/associations/make_reference.R (R 4.2.2, stats, jsonlite 1.8.4);
horTh (no/yes) plays the marker and is the outcome of the logistic models.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from prognosis.cohort.variable import Variable
from prognosis.dictionary import ColumnSpec
from prognosis.errors import ConvergenceWarning, ModelError
from prognosis.stats.associations import associations, fisher_exact_p

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DATA = {"complete": FIXTURES / "gbsg2" / "gbsg2.csv", "with_missing": FIXTURES / "associations" / "gbsg2_missing.csv"}


def variable(name, kind, levels=(), reference=None):
    return Variable(name, ColumnSpec(name, kind, levels=tuple(levels)), "gbsg2",
                    reference if reference is not None else (levels[0] if levels else None))


MARKER = variable("horTh", "categorical", ("no", "yes"))
FACTORS = [variable("tgrade", "categorical", ("I", "II", "III")), variable("menostat", "categorical", ("Post", "Pre")),
           variable("pnodes", "numeric")]


@pytest.fixture(scope="module")
def reference():
    return json.loads((FIXTURES / "associations" / "reference.json").read_text())


@pytest.fixture(scope="module", params=sorted(DATA))
def case(request, reference):
    result = associations(pd.read_csv(DATA[request.param]), MARKER, FACTORS).to_dict()
    return result, reference[request.param]["associations"]


@pytest.mark.parametrize("factor", ["tgrade", "menostat", "pnodes"])
def test_matches_r(case, factor):
    result, expected = case[0]["factors"][factor], case[1][factor]
    assert (result["n"], result["missing"], result["n_adjusted"]) == (expected["n"], expected["missing"], expected["n_adjusted"])
    assert result["table"] == expected.get("table")
    if "chi2" in expected:
        # chisq.test(table(horTh, factor), correct = FALSE)
        assert_allclose(result["chi2"]["statistic"], expected["chi2"]["statistic"], rtol=1e-10)
        assert_allclose(result["chi2"]["p"], expected["chi2"]["p"], rtol=1e-8)
        assert result["chi2"]["df"] == expected["chi2"]["df"]
        # fisher.test(table(horTh, factor)); 2 x 3 for tgrade, 2 x 2 for menostat
        assert_allclose(result["fisher_p"], expected["fisher_p"], rtol=1e-8)
    else:
        assert result["chi2"] is None and result["fisher_p"] is None
    # glm(horTh ~ factor [+ age], binomial), Wald CI; R's IRLS stops at epsilon 1e-8, so 1e-6
    for key in ("odds_ratios", "adjusted_odds_ratios"):
        assert sorted(result[key]) == sorted(expected[key])
        for term, ref in expected[key].items():
            got = result[key][term]
            for field in ("coef", "se", "odds_ratio", "lower", "upper"):
                assert_allclose(got[field], ref[field], rtol=1e-6, err_msg=f"{key} {term} {field}")
            assert_allclose(got["p"], ref["p"], rtol=1e-4, err_msg=f"{key} {term} p")
    assert result["adjusted_for"] == ["age"]


def test_to_dict_is_json(case):
    text = json.dumps(case[0], allow_nan=False)
    assert json.loads(text)["marker"] == "horTh" and case[0]["marker_level"] == "yes"


@pytest.mark.parametrize("index", range(4))
def test_fisher_small_tables(reference, index):
    # fisher.test(matrix) on 2 x 3, 2 x 4, 3 x 2 and 2 x 2 tables
    expected = reference["fisher_small"][index]
    assert_allclose(fisher_exact_p(np.array(expected["table"])), expected["p"], rtol=1e-9)


def test_fisher_not_reported_without_a_dimension_of_two():
    assert fisher_exact_p(np.array([[3, 1, 2], [1, 4, 2], [2, 2, 5]])) is None


def test_adjustment_is_skipped_for_age_itself():
    data = pd.read_csv(DATA["complete"])
    result = associations(data, MARKER, [variable("age", "numeric")]).factors["age"]
    assert result.adjusted_odds_ratios is None and result.adjusted_for == ()
    assert associations(data, MARKER, FACTORS[:1], age=None).factors["tgrade"].adjusted_odds_ratios is None


def test_empty_cell_gives_no_odds_ratio_and_warns():
    data = pd.read_csv(DATA["complete"])
    data.loc[(data.tgrade == "I"), "horTh"] = "no"           # nobody in grade I has the marker
    with pytest.warns(ConvergenceWarning, match="tgrade"):
        result = associations(data, MARKER, FACTORS[:1], age=None).factors["tgrade"]
    assert result.odds_ratios == {"tgrade[II]": None, "tgrade[III]": None}
    assert result.table["yes"]["I"] == 0 and result.fisher_p is not None


def test_marker_with_three_levels_models_the_chosen_level_against_the_reference():
    data = pd.read_csv(DATA["complete"])
    data["grade_marker"] = data.tgrade
    marker = variable("grade_marker", "categorical", ("I", "II", "III"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = associations(data, marker, FACTORS[1:2])
    assert result.marker_level == "III" and result.reference == "I"
    subset = data[data.tgrade.isin(["I", "III"])]
    expected = associations(subset.assign(b=(subset.tgrade == "III").astype(int)), variable("b", "binary"), FACTORS[1:2])
    assert_allclose(result.factors["menostat"].odds_ratios["menostat[Pre]"].odds_ratio,
                    expected.factors["menostat"].odds_ratios["menostat[Pre]"].odds_ratio, rtol=1e-10)
    assert result.factors["menostat"].fisher_p is not None           # 3 x 2 table
    with pytest.raises(ModelError, match="marker_level"):
        associations(data, marker, FACTORS[1:2], marker_level="IV")


def test_numeric_marker_is_refused():
    with pytest.raises(ModelError, match="age"):
        associations(pd.read_csv(DATA["complete"]), variable("age", "numeric"), FACTORS)


@pytest.mark.parametrize("data_set", sorted(DATA))
@pytest.mark.parametrize("factor", ["tgrade", "pnodes"])
def test_explicit_adjustment_matches_glm(reference, data_set, factor):
    # glm(horTh ~ factor + tsize + menostat, binomial): an adjustment named in the spec, not `age`
    expected = reference[data_set]["adjusted_for_tsize_menostat"][factor]
    adjust = [variable("tsize", "numeric"), FACTORS[1]]
    result = associations(pd.read_csv(DATA[data_set]), MARKER, [f for f in FACTORS if f.name == factor],
                          adjust_for=adjust, adjustment="adjusted for tsize, menostat (associations.adjust_for)")
    got = result.factors[factor]
    assert got.adjusted_for == tuple(expected["adjust_for"]) and got.n_adjusted == expected["n_adjusted"]
    assert result.adjust_for == ("tsize", "menostat") and "adjust_for" in result.to_dict()["adjustment"]
    for term, ref in expected["adjusted_odds_ratios"].items():
        odds = got.adjusted_odds_ratios[term]
        assert_allclose([odds.coef, odds.se, odds.odds_ratio, odds.lower, odds.upper],
                        [ref["coef"], ref["se"], ref["odds_ratio"], ref["lower"], ref["upper"]], rtol=1e-6, err_msg=term)
        assert_allclose(odds.p, ref["p"], rtol=1e-4, err_msg=term)


def test_a_factor_in_adjust_for_is_adjusted_for_the_others_only(reference):
    data = pd.read_csv(DATA["complete"])
    result = associations(data, MARKER, FACTORS[1:2], adjust_for=[variable("tsize", "numeric"), FACTORS[1]])
    assert result.factors["menostat"].adjusted_for == ("tsize",)
    with pytest.raises(ModelError, match="outcome"):
        associations(data, MARKER, FACTORS[:1], adjust_for=[MARKER])
