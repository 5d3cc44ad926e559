"""fit_cox on covariates of any scale, and its monotone-likelihood (separation) rule, against R.

Reference: tests/fixtures/cox_scale/make_reference.R (R 4.2.2, survival 3.5.3) on survival::pbc,
death (status 2) as the event. Bilirubin in mol/L (x 17.104e-6) has coefficient ~8494 and in
tiny units (x 1e6) ~1.5e-7: the same model as in mg/dL, which R fits alike. R stops at a relative
log-likelihood change of 1e-9, so coefficients agree to ~1e-8 relative, not to the last digit.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from prognosis.cohort.variable import Variable
from prognosis.dictionary.model import ColumnSpec
from prognosis.errors import ModelError
from prognosis.stats.cox import fit_cox
from prognosis.stats.cox_engine import CoxFitError, newton_cox
from prognosis.stats.design import design_matrix
from prognosis.stats.fine_gray import fit_fine_gray

HERE = Path(__file__).resolve().parents[1] / "fixtures" / "cox_scale"
REFERENCE = json.loads((HERE / "reference.json").read_text())
RTOL = 1e-6
R_NAMES = {"sexf": "sex[f]"}


def _pbc() -> pd.DataFrame:
    data = pd.read_csv(HERE / "pbc.csv")
    # the derived columns exactly as make_reference.R computes them
    return data.assign(death=(data.status == 2).astype(float), bili_mol=data.bili * 17.104e-6,
                       bili_ng=data.bili * 1e6, bili_log=np.log(data.bili),
                       male_tiny=(data.sex == "m") * 1e-6)


PBC = _pbc()


def _variable(name):
    if name == "sex":
        return Variable(name, ColumnSpec(name, "categorical", levels=("m", "f")), "t", "m")
    return Variable(name, ColumnSpec(name, "numeric"), "t")


def _fit(names, *, event="death", **options):
    design = design_matrix(PBC, [_variable(n) for n in names])
    return fit_cox(PBC.time.to_numpy(), PBC[event].to_numpy(), design, **options)


MODELS = {"mgdl": ["sex", "age", "bili"], "mol": ["sex", "age", "bili_mol"], "ng": ["sex", "age", "bili_ng"],
          "mol_log": ["sex", "bili_mol", "bili_log"]}


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("model", list(MODELS))
def test_rescaled_covariates_match_coxph(model, ties):
    # coxph(Surv(time, status == 2) ~ sex + age + I(bili * 17.104e-6), pbc): beta 8493.6 (SE 676.1)
    result = _fit(MODELS[model], ties=ties)
    expected = REFERENCE["fits"][f"{model}_{ties}"]
    assert list(result.terms) == [R_NAMES.get(t, t) for t in expected["term_order"]]
    ref = [expected["terms"][t] for t in expected["term_order"]]
    assert_allclose(result.coef, [r["coef"] for r in ref], rtol=RTOL)
    assert_allclose(result.se, [r["se"] for r in ref], rtol=RTOL)
    assert_allclose(result.log_likelihood, expected["loglik"], rtol=1e-10)
    assert_allclose(result.log_likelihood_null, expected["loglik_null"], rtol=1e-10)
    assert_allclose(result.concordance, expected["concordance"], rtol=1e-8)
    assert result.n == expected["n"] and result.n_events == expected["nevent"]


def test_units_do_not_change_the_model():
    # The same model in mg/dL and mol/L: one log-likelihood, coefficients in the ratio of the units.
    mgdl, mol = _fit(MODELS["mgdl"]), _fit(MODELS["mol"])
    assert_allclose(mol.log_likelihood, mgdl.log_likelihood, rtol=1e-12)
    assert_allclose(mol.coef[2] * 17.104e-6, mgdl.coef[2], rtol=1e-8)


SEPARATION = {"binary": ["sex", "age"], "binary_tiny": ["male_tiny", "age"], "binary_mol": ["sex", "age", "bili_mol"]}


@pytest.mark.parametrize("case", list(SEPARATION))
def test_separation_names_the_terms_r_calls_infinite(case):
    # No man dies (death_f): R warns "Loglik converged before variable 1; coefficient may be
    # infinite" for sexf, whatever its units (male_tiny = 1e-6 x male) and beside a large but
    # finite bili_mol, which is not named.
    expected = REFERENCE["separation"][case]
    assert any("Loglik converged before variable" in w for w in expected["warnings"])
    data_event = ((PBC.status == 2) & (PBC.sex == "f")).astype(float)
    design = design_matrix(PBC, [_variable(n) for n in SEPARATION[case]])
    with pytest.raises(ModelError, match="monotone likelihood") as info:
        fit_cox(PBC.time.to_numpy(), data_event.to_numpy(), design)
    message = str(info.value)
    named = [t for t in design.terms if t in message]
    assert named == [R_NAMES.get(t, t) for t in expected["infinite"]]


def test_engine_reports_which_coefficients_diverge():
    # newton_cox's own record: the diverging column is flagged, the finite ones are not.
    event = ((PBC.status == 2) & (PBC.sex == "f")).to_numpy(dtype=float)
    x = np.column_stack([(PBC.sex == "f").to_numpy(dtype=float), PBC.age, PBC.bili * 17.104e-6])
    with pytest.raises(CoxFitError) as info:
        newton_cox(PBC.time.to_numpy(dtype=float), event, x)
    assert info.value.kind == "monotone"
    assert list(info.value.diverging) == [True, False, False]


# --- Fine–Gray (cmprsk::crr 2.2, same fixture): death the cause of interest, transplant competing ---

FG_STATUS = PBC.status.map({0: 0, 2: 1, 1: 2}).to_numpy()


def _fine_gray(names, status=FG_STATUS, frame=PBC, **options):
    design = design_matrix(frame, [_variable(n) for n in names])
    return fit_fine_gray(frame.time.to_numpy(), status, design, **options)


@pytest.mark.parametrize("model, names", [("mgdl", ["sex", "age", "bili"]), ("mol", ["sex", "age", "bili_mol"]),
                                          ("bili", ["bili"])])
def test_fine_gray_on_rescaled_covariates_matches_crr(model, names):
    # crr(time, status, cbind(sexf, age, bili * 17.104e-6)): coefficient 8183.2 (SE 899.5)
    result = _fine_gray(names)
    expected = REFERENCE["fine_gray"][model]
    assert_allclose(result.coef, expected["coef"], rtol=RTOL)
    assert_allclose(result.se, expected["se"], rtol=RTOL)
    assert_allclose(result.log_likelihood, expected["loglik"], rtol=1e-10)


def test_fine_gray_in_tiny_units_is_the_same_model():
    # crr(time, status, bili * 1e-6) stops at b = 0 and reports convergence (loglik -881.4, the null
    # model's): its gradient rule depends on the units. The model is crr's fit on bili, coefficient x 1e6.
    assert REFERENCE["fine_gray"]["bili_mega"]["coef"] == [0] and REFERENCE["fine_gray"]["bili_mega"]["converged"]
    result = _fine_gray(["bili_mega"], frame=PBC.assign(bili_mega=PBC.bili * 1e-6))
    expected = REFERENCE["fine_gray"]["bili"]
    assert_allclose(result.coef * 1e-6, expected["coef"], rtol=RTOL)
    assert_allclose(result.se * 1e-6, expected["se"], rtol=RTOL)
    assert_allclose(result.log_likelihood, expected["loglik"], rtol=1e-10)


@pytest.mark.parametrize("max_iter", [10, 100])
def test_fine_gray_separation_names_the_term(max_iter):
    # No man dies: crr(..., maxiter = 100) reports convergence at sexf = 13.3, a finite value of a
    # likelihood that keeps rising; prognosis refuses it and names the term.
    assert REFERENCE["fine_gray"]["separation"]["converged"]
    status = np.where((FG_STATUS == 1) & (PBC.sex == "m").to_numpy(), 0, FG_STATUS)
    with pytest.raises(ModelError, match=r"sex\[f\].*monotone likelihood") as info:
        _fine_gray(["sex", "age"], status=status, max_iter=max_iter)
    assert "age" not in str(info.value).split("cannot")[0]


def test_a_ratio_beyond_floating_point_is_null_in_results_json():
    # exp(8493.6) overflows (R prints Inf): results.json (allow_nan=False) carries null there, and
    # the coefficient and SE as numbers, valid against the published schema.
    import jsonschema

    from prognosis.analysis.result import results_schema

    terms = _fit(MODELS["mol"]).to_dict()["terms"]
    json.dumps(terms, allow_nan=False)
    assert terms["bili_mol"]["hazard_ratio"] is None and terms["bili_mol"]["upper"] is None
    assert_allclose(terms["bili_mol"]["coef"], REFERENCE["fits"]["mol_efron"]["terms"]["bili_mol"]["coef"], rtol=RTOL)
    schema = results_schema()
    term_schema = {"$defs": schema["$defs"], **schema["$defs"]["term"]}
    for values in terms.values():
        jsonschema.validate(values, term_schema, cls=jsonschema.Draft202012Validator)
