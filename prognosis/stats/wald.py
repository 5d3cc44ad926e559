"""Wald summaries of a proportional-hazards fit: hazard ratios, their intervals and p-values per term.

Shared by the Cox and Fine–Gray results, whose ``terms`` tables are one results.json contract.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd
from scipy import stats


def wald_summary(coef: np.ndarray, se: np.ndarray, conf_level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``exp(coef)``, its ``conf_level`` interval ``exp(coef -/+ z se)`` (n_terms x 2) and the two-sided p-value."""
    z = stats.norm.ppf(0.5 + conf_level / 2.0)
    # A coefficient in tiny units (bilirubin in mol/L: 8494) overflows exp(); R reports Inf too.
    with np.errstate(over="ignore"):
        conf_int = np.exp(np.column_stack([coef - z * se, coef + z * se]))
        return np.exp(coef), conf_int, 2.0 * stats.norm.sf(np.abs(coef / se))


class HazardRatioTerms(Protocol):
    terms: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    hazard_ratio: np.ndarray
    conf_int: np.ndarray
    p_value: np.ndarray


def terms_frame(fit: HazardRatioTerms) -> pd.DataFrame:
    """One row per term: coef, se, hazard_ratio, lower, upper, p."""
    return pd.DataFrame(
        {"coef": fit.coef, "se": fit.se, "hazard_ratio": fit.hazard_ratio,
         "lower": fit.conf_int[:, 0], "upper": fit.conf_int[:, 1], "p": fit.p_value},
        index=pd.Index(fit.terms, name="term"),
    )


def terms_dict(fit: HazardRatioTerms) -> dict[str, dict[str, float]]:
    """The ``terms`` mapping of results.json: term -> hazard_ratio, lower, upper, p, coef, se.

    A ratio that exp() cannot represent (overflow to infinity, underflow to 0) is null.
    """
    return {
        term: {"hazard_ratio": _ratio(hr), "lower": _ratio(lo), "upper": _ratio(up), "p": float(p),
               "coef": float(b), "se": float(se)}
        for term, hr, (lo, up), p, b, se in zip(
            fit.terms, fit.hazard_ratio, fit.conf_int, fit.p_value, fit.coef, fit.se)
    }


def _ratio(value: float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) and value > 0 else None
