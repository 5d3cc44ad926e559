"""The forest plot with a hazard ratio or limit that a float cannot hold (prognosis/report/figures.py).

Very large finite coefficients now fit (pbc bilirubin in mol/L: coef 8493.6, as R coxph), and
exp() of them is inf: results.json gives null, R prints Inf. The figure leaves such a term out
with a footnote instead of drawing through inf with numpy/matplotlib RuntimeWarnings.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from prognosis.report.figures import figure_bytes, forest_figure
from prognosis.stats.cox import CoxResult


def _cox(coef, se):
    coef, se = np.asarray(coef, dtype=float), np.asarray(se, dtype=float)
    with np.errstate(over="ignore"):
        hr = np.exp(coef)
        ci = np.exp(np.column_stack([coef - 1.959963984540054 * se, coef + 1.959963984540054 * se]))
    return CoxResult(terms=tuple(f"x{i}" for i in range(coef.size)), coef=coef, se=se, hazard_ratio=hr,
                     conf_int=ci, p_value=np.full(coef.size, 0.5), n=100, n_events=50, log_likelihood=-1.0,
                     log_likelihood_null=-2.0, concordance=0.6, ties="efron")


def _texts(fig):
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]


@pytest.mark.parametrize("coef, se", [
    ([0.3, 8493.6, -0.2], [0.1, 676.1, 0.2]),     # HR and both limits inf (bilirubin in mol/L)
    ([0.3, 700.0], [0.1, 5.0]),                   # HR finite, upper limit inf
    ([0.3, -8493.6], [0.1, 676.1]),               # HR 0 (underflow)
    ([8493.6], [676.1]),                          # nothing drawable at all
])
def test_forest_plot_leaves_out_unrepresentable_terms_without_warnings(coef, se):
    cox = _cox(coef, se)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = forest_figure(cox, labels={"x1": "Bilirubin (mol/L)"})
        texts = _texts(fig)
        assert figure_bytes(fig)[:4] == b"\x89PNG"
    bad = [t for t, h, (lo, up) in zip(cox.terms, cox.hazard_ratio, cox.conf_int)
           if not all(np.isfinite(v) and v > 0 for v in (h, lo, up))]
    footnote = [t for t in texts if t.startswith("Not drawn")]
    assert len(footnote) == 1
    for term in bad:
        label = "Bilirubin (mol/L)" if term == "x1" else term
        assert label in footnote[0]
    # Every term keeps its row label.
    assert all(("Bilirubin (mol/L)" if t == "x1" else t) in texts for t in cox.terms)


def test_forest_plot_of_finite_terms_has_no_footnote():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = forest_figure(_cox([0.3, -0.2], [0.1, 0.2]))
    assert not [t for t in _texts(fig) if t.startswith("Not drawn")]
    figure_bytes(fig)
