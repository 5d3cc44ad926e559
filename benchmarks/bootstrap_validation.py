"""Bootstrap validation speed and agreement with rms::validate on GBSG2 (prints; not a test).

Run from the repository root: ``python benchmarks/bootstrap_validation.py [B]``. Prints the
wall time of prognosis' bootstrap_validate and, per index, our optimism, R's (reference.json,
B = 200) and their difference in Monte-Carlo standard errors of the difference.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

from prognosis.cohort import assemble_cohort, read_table
from prognosis.spec import load_spec
from prognosis.stats import design_matrix
from prognosis.stats.bootstrap import bootstrap_validate

ROOT = Path(__file__).resolve().parents[1]
B = int(sys.argv[1]) if len(sys.argv) > 1 else 200

spec = load_spec(ROOT / "tests" / "fixtures" / "gbsg2" / "gbsg2_spec.yaml")
cohort = assemble_cohort([read_table(t.name, t.path, t.dictionary) for t in spec.tables],
                         spec.join, spec.endpoint, spec.model_variables)
design = design_matrix(cohort.data, [cohort.variables[v] for v in
                                     ("horTh", "age", "menostat", "tsize", "tgrade", "pnodes", "progrec", "estrec")])
reference = json.loads((ROOT / "tests" / "fixtures" / "validation" / "reference.json").read_text())["validate"]

start = time.perf_counter()
result = bootstrap_validate(cohort.time, cohort.event, design, B=B, seed=1, progress=False)
elapsed = time.perf_counter() - start
print(f"bootstrap_validate: n = {result.n}, B = {B}: {elapsed:.2f} s ({1000 * elapsed / B:.1f} ms per replicate)")
print(f"C apparent {result.c_apparent:.4f}, optimism {result.c_optimism:.4f}, corrected {result.c_corrected:.4f}")
for name, row in result.indexes.items():
    r_opt = reference[name]["optimism"]
    # MC SE of the difference: ours, and R's assumed to have the same spread at B = 200
    se_diff = np.hypot(row.optimism_se, row.optimism_se * np.sqrt(row.n / 200))
    print(f"{name:6s} apparent {row.apparent:.6f} (R {reference[name]['index_orig']:.6f})  optimism {row.optimism:.5f} "
          f"(R {r_opt:.5f}, diff {(row.optimism - r_opt) / se_diff:+.2f} MC SE)  corrected {row.corrected:.5f} "
          f"(R {reference[name]['index_corrected']:.5f})")
