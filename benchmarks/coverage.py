"""Monte Carlo check of the Cox machinery: CI coverage of the adjusted HR and type-I error of the marker LRT.

Usage: ``python benchmarks/coverage.py [replicates] [n] [seed]`` (defaults 5000, 300, 20240601).
Prints coverage and rejection rates with their Monte Carlo standard errors; the unit-test
version (fewer replicates) is tests/stats/test_coverage.py.
"""

from __future__ import annotations

import sys
import time as clock

import numpy as np
import pandas as pd
from scipy import stats

from prognosis.stats.cox import fit_cox
from prognosis.stats.design import Design

TRUE_COVARIATE_COEF = np.array([0.5, -0.3, 0.4])


def simulate(rng: np.random.Generator, n: int, log_hr: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exponential survival under a Cox model: binary marker + 2 normal covariates + 1 binary one.

    The marker is correlated with the first covariate, so adjustment matters; censoring is
    uniform on (0, 3), giving about 30-40% censored.
    """
    z1 = rng.normal(size=n)
    marker = (rng.random(n) < 1.0 / (1.0 + np.exp(-0.8 * z1))).astype(float)
    x = np.column_stack([marker, z1, rng.normal(size=n), (rng.random(n) < 0.4).astype(float)])
    eta = x @ np.concatenate([[log_hr], TRUE_COVARIATE_COEF])
    event_time = rng.exponential(size=n) / (0.5 * np.exp(eta))
    censor_time = rng.uniform(0.0, 3.0, size=n)
    return np.minimum(event_time, censor_time), (event_time <= censor_time).astype(float), x


def _design(x: np.ndarray) -> Design:
    names = ["marker[1]", "z1", "z2", "z3[1]"]
    return Design(pd.DataFrame(x, columns=names), {"marker": ("marker[1]",), "z1": ("z1",), "z2": ("z2",),
                                                   "z3": ("z3[1]",)}, {"marker": "0", "z1": None, "z2": None,
                                                                       "z3": "0"})


def covered(rng: np.random.Generator, n: int, log_hr: float) -> bool:
    """Does the 95% Wald CI of the adjusted marker HR cover the truth in one replicate?"""
    time, event, x = simulate(rng, n, log_hr)
    fit = fit_cox(time, event, _design(x))
    lower, upper = fit.conf_int[0]
    return bool(lower <= np.exp(log_hr) <= upper)


def rejected(rng: np.random.Generator, n: int, *, level: float = 0.05) -> bool:
    """Under HR 1, does the likelihood-ratio test of adding the marker reject at ``level``?"""
    time, event, x = simulate(rng, n, 0.0)
    design = _design(x)
    full = fit_cox(time, event, design)
    base = fit_cox(time, event, design.without("marker"))
    statistic = max(2.0 * (full.log_likelihood - base.log_likelihood), 0.0)
    return bool(stats.chi2.sf(statistic, 1) < level)


def main(replicates: int = 5000, n: int = 300, seed: int = 20240601) -> None:
    rng = np.random.default_rng(seed)
    start = clock.perf_counter()
    coverage = np.mean([covered(rng, n, np.log(2.0)) for _ in range(replicates)])
    type1 = np.mean([rejected(rng, n) for _ in range(replicates)])
    elapsed = clock.perf_counter() - start
    print(f"replicates {replicates}, n {n}, seed {seed}, {elapsed:.1f} s")
    print(f"coverage of 95% CI (true HR 2): {coverage:.4f}  (MC SE {np.sqrt(coverage * (1 - coverage) / replicates):.4f})")
    print(f"type-I error of marker LRT at 5%: {type1:.4f}  (MC SE {np.sqrt(type1 * (1 - type1) / replicates):.4f})")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
