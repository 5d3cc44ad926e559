"""Time the misclassification bias analysis on the demo cohort (2,000 patients read, the adjusted model's
complete cases analysed).

Run:  .venv/bin/python benchmarks/misclassification.py [--draws 1000] [--seed 1] [--time-groups 4]
Prints the seconds taken by the bias analysis alone (tables read and the conventional models fitted
beforehand), the draws used and discarded, and the conventional and corrected hazard ratios, with
the demo's Se ~ Beta(25, 4) and Sp ~ Beta(88, 5) (the README's example).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from prognosis.analysis import sections
from prognosis.analysis.pipeline import _assemble, read_tables
from prognosis.spec import load_spec
from prognosis.spec.options import DistributionSpec, MisclassificationSpec
from prognosis.stats import compare_models

DEMO = Path(__file__).resolve().parents[1] / "analyses" / "demo.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-groups", type=int, default=4, help="outcome groups of follow-up time (spec key)")
    args = parser.parse_args()
    spec = load_spec(DEMO)
    options = MisclassificationSpec(DistributionSpec("beta", (25.0, 4.0)), DistributionSpec("beta", (88.0, 5.0)),
                                    draws=args.draws, seed=args.seed, time_groups=args.time_groups)
    spec = dataclasses.replace(spec, options=dataclasses.replace(spec.options, misclassification=options))
    cohort = _assemble(spec, read_tables(spec.tables))
    models = compare_models(cohort, spec.marker.name, tuple(c.name for c in spec.covariates), ties=spec.options.ties)
    start = time.perf_counter()
    result = sections.misclassification(cohort, spec, models)
    seconds = time.perf_counter() - start
    assert result is not None
    fitted = max(result.draws_used + result.draws_not_fitted, 1)
    print(f"{result.n} patients, {len(models.adjusted.terms)} terms, {args.draws} draws, time_groups "
          f"{args.time_groups}: {seconds:.2f} s ({1000 * seconds / fitted:.1f} ms a fitted draw)")
    print(f"draws used {result.draws_used}, discarded (impossible Se/Sp) {result.draws_discarded}, "
          f"not fitted {result.draws_not_fitted}")
    low, high = result.conventional_interval
    print(f"conventional HR {result.conventional_hazard_ratio:.3f} ({low:.3f} to {high:.3f})")
    low, high = result.interval_systematic
    print(f"corrected HR, systematic error: median {result.median_systematic:.3f} ({low:.3f} to {high:.3f})")
    low, high = result.interval_total
    print(f"corrected HR, systematic and random error: median {result.median_total:.3f} ({low:.3f} to {high:.3f})")


if __name__ == "__main__":
    main()
