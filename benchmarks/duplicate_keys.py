"""Time and memory of reporting duplicate keys, through validation and through assembly.

Run:  .venv/bin/python benchmarks/duplicate_keys.py [--cases many_share_one_id identical_rows]
Each case runs in its own process (so that peak memory is that case's alone) and prints the
seconds taken, the peak resident memory of that process (``ru_maxrss``, which includes the
~150 MB of the imported libraries and the input table itself) and the number of violations; with
``--python-peak`` also the peak of Python's own allocations (``tracemalloc``, which numpy and
pandas report to; it slows the run about threefold, so the seconds are then not comparable):

- ``validate``: the key is declared in the dictionary, so :func:`validate_table` finds the repeats;
- ``assemble``: no key is declared, the table validates, and the join (``assemble_cohort``) finds them.

Cases: 8,000 rows sharing one id among 10,000 (issue 9 measured 67 s and 3 GB for it) and
1,000,000 identical rows (issue 9: MemoryError).

Measured on the 2-core machine of issue 9 (seconds, peak RSS):

=====================  ========  ======================  ==================
case                   through   before (543eef7)        after
=====================  ========  ======================  ==================
8,000 share one id     validate  43.2 s, 2,908 MB        0.27 s, 140 MB
8,000 share one id     assemble  37.3 s, 2,907 MB        0.27 s, 140 MB
1,000,000 identical    validate  > 240 s (stopped)       9.1 s, 757 MB
1,000,000 identical    assemble  > 240 s (stopped)       13.0 s, 826 MB
=====================  ========  ======================  ==================

(The "before" million-row runs were traced with tracemalloc, which slows them, and stopped at
240 s; the after-figures' RSS includes ~130 MB of imported libraries and the input table.)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pandas as pd

CASES = {"many_share_one_id": (10_000, 8_000), "identical_rows": (1_000_000, 1_000_000)}


def _table(n_rows: int, n_shared: int) -> pd.DataFrame:
    """Text as a CSV reader returns it: the first ``n_shared`` rows repeat id P0, the rest are unique."""
    ids = np.array([f"P{i}" for i in range(n_rows)], dtype=object)
    ids[:n_shared] = "P0"
    identical = n_shared == n_rows
    return pd.DataFrame({"patient_id": ids,
                         "followup_days": "100" if identical else (np.arange(n_rows) % 900 + 10).astype(str),
                         "death": "1" if identical else (np.arange(n_rows) % 2).astype(str)})


def _run(case: str, path: str, python_peak: bool) -> dict:
    from prognosis.cohort import assemble_cohort
    from prognosis.cohort.readers import Table
    from prognosis.dictionary import ColumnSpec, DataDictionary
    from prognosis.dictionary.validate import validate_table
    from prognosis.errors import DataValidationError
    from prognosis.spec import EndpointSpec, TimeSpec

    raw = _table(*CASES[case])
    columns = {"patient_id": ColumnSpec("patient_id", "string", required=True),
               "followup_days": ColumnSpec("followup_days", "numeric", min=1),
               "death": ColumnSpec("death", "binary")}
    keyed = path == "validate"
    dictionary = DataDictionary("clinical", columns, key="patient_id" if keyed else None)
    if python_peak:
        tracemalloc.start()
    start = time.perf_counter()
    try:
        typed = validate_table(raw, dictionary, path="clinical.csv")
        table = Table("clinical", "clinical.csv", typed, dictionary, "0" * 64)
        endpoint = EndpointSpec(time=TimeSpec(column="followup_days", unit="days"), event="death", unit="years")
        assemble_cohort([table], "patient_id", endpoint)
        violations, first = 0, ""
    except DataValidationError as exc:
        violations, first = len(exc.violations), exc.violations[0].message(show_value=False)
        message_chars = len(str(exc))
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    return {"case": case, "path": path, "seconds": round(seconds, 2),
            "peak_python_mb": round(peak / 2**20, 1) if python_peak else None,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "violations": violations, "message_chars": message_chars if violations else 0, "first": first}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed per case and path")
    parser.add_argument("--python-peak", action="store_true", help="also trace Python's peak allocations")
    parser.add_argument("--one", nargs=2, metavar=("CASE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_run(*args.one, args.python_peak)))
        return
    print(f"{'case':<20} {'through':<9} {'seconds':>8} {'peak RSS MB':>12} {'peak py MB':>11} {'violations':>11}  first")
    for case in args.cases:
        for path in ("validate", "assemble"):
            try:
                done = subprocess.run([sys.executable, __file__, "--one", case, path,
                                       *(["--python-peak"] if args.python_peak else [])], capture_output=True, text=True,
                                      timeout=args.timeout)
            except subprocess.TimeoutExpired:
                print(f"{case:<20} {path:<9} stopped after {args.timeout:g} s")
                continue
            if done.returncode != 0:
                print(f"{case:<20} {path:<9} failed: {done.stderr.strip().splitlines()[-1] if done.stderr else done.returncode}")
                continue
            r = json.loads(done.stdout)
            python = "-" if r["peak_python_mb"] is None else f"{r['peak_python_mb']:.1f}"
            print(f"{case:<20} {path:<9} {r['seconds']:>8.2f} {r['peak_rss_mb']:>12.1f} {python:>11} "
                  f"{r['violations']:>11,}  {r['first'][:90]}")


if __name__ == "__main__":
    main()
