"""Time prognosis' Fine–Gray fit against R ``cmprsk::crr`` on simulated cohorts (n = 5k, 10k; p = 5).

Run:  .venv/bin/python benchmarks/fine_gray.py [--seed 1]
Prints our time (best of 3) and, when Rscript with cmprsk is on the PATH, crr's time on the same
data (the fit alone, reading the CSV excluded), the ratio, and the largest relative differences
in coefficients and standard errors. Without R it prints our figures only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from prognosis.stats.design import Design
from prognosis.stats.fine_gray import fit_fine_gray

N_COVARIATES = 5
R_SCRIPT = """
suppressPackageStartupMessages(library(cmprsk))
d <- read.csv(commandArgs(TRUE)[1])
x <- as.matrix(d[, grep("^x", names(d))])
elapsed <- system.time(fit <- crr(d$time, d$status, x))[["elapsed"]]
cat(jsonlite::toJSON(list(seconds = elapsed, coef = unname(fit$coef), se = unname(sqrt(diag(fit$var)))),
                     digits = NA, auto_unbox = TRUE))
"""


def simulate(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Exponential cause-specific hazards (cause 1 and a competing cause 2), uniform censoring."""
    x = rng.normal(size=(n, N_COVARIATES))
    x[:, 1] = rng.random(n) < 0.4
    beta1 = np.array([0.5, -0.4, 0.3, 0.0, 0.2])
    beta2 = np.array([-0.2, 0.3, 0.0, 0.4, 0.0])
    t1 = rng.exponential(1.0 / (0.10 * np.exp(x @ beta1)))
    t2 = rng.exponential(1.0 / (0.08 * np.exp(x @ beta2)))
    censor = rng.uniform(0.0, 15.0, n)
    follow = np.minimum.reduce([t1, t2, censor])
    status = np.select([follow == t1, follow == t2], [1, 2], 0)
    frame = pd.DataFrame(x, columns=[f"x{j + 1}" for j in range(N_COVARIATES)])
    # Rounded to 3 decimals as a registry would store it: some ties, and R reads the same values.
    return frame.assign(time=np.round(follow, 3) + 0.001, status=status)


def ours(data: pd.DataFrame):
    columns = [f"x{j + 1}" for j in range(N_COVARIATES)]
    design = Design(data[columns], {c: (c,) for c in columns}, {c: None for c in columns})
    best, result = np.inf, None
    for _ in range(3):
        start = time.perf_counter()
        result = fit_fine_gray(data["time"].to_numpy(), data["status"].to_numpy(), design)
        best = min(best, time.perf_counter() - start)
    return best, result


def r_crr(data: pd.DataFrame, folder: Path) -> dict | None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    csv, script = folder / "cohort.csv", folder / "crr.R"
    data.to_csv(csv, index=False, float_format="%.17g")
    script.write_text(R_SCRIPT)
    run = subprocess.run([rscript, str(script), str(csv)], capture_output=True, text=True, check=False)
    if run.returncode != 0:
        print(f"  Rscript failed: {run.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(run.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 10000])
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            data = simulate(n, rng)
            seconds, result = ours(data)
            counts = np.bincount(data["status"], minlength=3)
            print(f"n = {n}, p = {N_COVARIATES} (censored {counts[0]}, cause 1 {counts[1]}, competing {counts[2]})")
            print(f"  prognosis fit_fine_gray: {seconds:.3f} s ({result.iterations} Newton steps)")
            r = r_crr(data, Path(tmp))
            if r is None:
                print("  cmprsk::crr: not run (Rscript with cmprsk not available)")
                continue
            coef_diff = np.max(np.abs(result.coef / np.array(r["coef"]) - 1))
            se_diff = np.max(np.abs(result.se / np.array(r["se"]) - 1))
            print(f"  cmprsk::crr:             {r['seconds']:.3f} s   ratio crr / ours = {r['seconds'] / seconds:.1f}")
            print(f"  max relative difference: coef {coef_diff:.1e}, se {se_diff:.1e}")


if __name__ == "__main__":
    main()
