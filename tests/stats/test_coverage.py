"""Simulation checks of fit_cox under a correctly specified Cox model (small version of benchmarks/coverage.py).

One fixed seed, so the outcome is deterministic; the bands are wide enough that a correct
implementation lands in them for essentially any seed: with 1000 replicates the Monte Carlo SD
of a 95% coverage is 0.69 points (band 93-97 = +-2.9 SD) and that of a 5% rejection rate 0.69
points (band 3-7 = +-2.9 SD). With ~65 events the LRT is slightly liberal: 5.9% (MC SE 0.4) over
3600 replicates of other seeds, still 1.5 SD inside the band. A wrong SE (e.g. off by 15%) or a wrong
log-likelihood moves them well outside. n = 120 per replicate (about 65 events, 16 per term)
keeps the file near 30 s on one core.
"""

import importlib.util
from pathlib import Path

import numpy as np

# Loaded by path under its own name: "coverage" would clash with coverage.py (pytest-cov).
_SPEC = importlib.util.spec_from_file_location(
    "prognosis_benchmark_coverage", Path(__file__).resolve().parents[2] / "benchmarks" / "coverage.py")
_BENCHMARK = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_BENCHMARK)
covered, rejected = _BENCHMARK.covered, _BENCHMARK.rejected

SEED = 20240601
N = 120


def test_adjusted_hazard_ratio_ci_covers_the_truth():
    # true HR 2 for the binary marker, adjusted for 3 covariates; nominal 95%
    rng = np.random.default_rng(SEED)
    coverage = np.mean([covered(rng, N, np.log(2.0)) for _ in range(1000)])
    assert 0.93 <= coverage <= 0.97, coverage


def test_marker_likelihood_ratio_test_holds_its_level():
    # true HR 1: the LRT of adding the marker to the 3 covariates rejects at 5%
    rng = np.random.default_rng(SEED + 1)
    rate = np.mean([rejected(rng, N) for _ in range(1000)])
    assert 0.03 <= rate <= 0.07, rate
