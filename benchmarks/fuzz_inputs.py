"""The long fuzz run of issue 9: mutated specs, mutated dictionaries and random tables, counted.

The strategies and outcome checks are those of ``tests/test_fuzz_inputs.py`` (CI runs a few
hundred examples of them); here each family runs ``--examples`` times and every outcome is
counted: ``ok``, each PrognosisError class, and the unexpected ones (another exception, or a
broken invariant: half-written output folder, unbalanced flow, lost row) with their type and a
short repro. The goal is 0 unexpected.

Usage::

    PYTHONPATH=. python benchmarks/fuzz_inputs.py --examples 2000 [--runs 50] [--seed 1]

``--runs`` is how many mutated specs go through the whole analysis (in-process) and a tenth of
them through ``prognosis run`` with its report (seconds each; the loaders take milliseconds).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import test_fuzz_inputs as fuzz  # noqa: E402  (the shared strategies and checks)


def _short(value: Any, limit: int = 600) -> str:
    """The input, YAML documents shown as the keys that differ from the unmutated base they came from."""
    parts = value if isinstance(value, tuple) else (value,)
    shown = []
    for part in parts:
        if isinstance(part, str) and part.count("\n") > 3:
            try:
                tree = yaml.safe_load(part)
            except yaml.YAMLError:
                tree = None
            bases = [*fuzz.SPECS.values(), *fuzz.DICTIONARIES.values()]
            if isinstance(tree, dict):
                base = max(bases, key=lambda b: sum(tree.get(k) == v for k, v in b.items()))
                diff = {k: v for k, v in tree.items() if base.get(k) != v}
                missing = [k for k in base if k not in tree]
                part = f"<base {base.get('title') or base.get('table')} with {diff!r}, without {missing}>"
        shown.append(part)
    text = repr(tuple(shown) if len(shown) > 1 else shown[0])
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def run_family(name: str, strategy: st.SearchStrategy, check: Callable[..., Any], examples: int,
               random_seed: int, star: bool = False) -> tuple[Counter, list[str]]:
    """Draw ``examples`` inputs and count the outcome of ``check`` on each; never stops on a failure."""
    counts: Counter = Counter()
    unexpected: list[str] = []

    @seed(random_seed)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), phases=("generate",))
    @given(value=strategy)
    def draw(value):
        try:
            outcome = check(*value) if star else check(value)
        except Exception as exc:  # the point of the run: anything else is counted, not raised
            frames = traceback.extract_tb(exc.__traceback__)
            ours = [f for f in frames if "/prognosis/" in f.filename] or frames
            where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}"
            if ours[-1] is not frames[-1]:
                where += f" -> {Path(frames[-1].filename).name}:{frames[-1].lineno}"
            key = f"UNEXPECTED {type(exc).__name__} at {where}"
            if counts[key] == 0:
                unexpected.append(f"{key}: {str(exc)[:200]}\n    repro: {_short(value)}")
            counts[key] += 1
        else:
            counts[outcome.kind] += 1

    draw()
    return counts, unexpected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000, help="examples per loader family (default 2000)")
    parser.add_argument("--runs", type=int, default=50, help="mutated specs run through the analysis (default 50)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    specs, dictionaries = fuzz.base_specs(), fuzz.base_dictionaries()
    any_spec = st.sampled_from(tuple(specs.values())).flatmap(lambda s: fuzz.mutated_tree(s, fuzz.SPEC_WORDS))
    gbsg2 = fuzz.gbsg2_with_options().flatmap(lambda s: st.one_of(st.just(s), fuzz.mutated_tree(s, fuzz.SPEC_WORDS)))
    dictionary = st.sampled_from(sorted(dictionaries)).flatmap(
        lambda n: st.tuples(fuzz.yaml_text(fuzz.mutated_tree(dictionaries[n], fuzz.DICTIONARY_WORDS)), st.just(n)))
    families = [
        ("spec loader", fuzz.yaml_text(any_spec), fuzz.check_spec_text, args.examples, False),
        ("dictionary loader + demo table", dictionary, fuzz.check_dictionary_text, args.examples, True),
        ("random tables", fuzz.random_table(dictionaries), fuzz.check_table, args.examples, True),
        ("analysis (in-process)", st.tuples(fuzz.yaml_text(gbsg2), fuzz.cell_edits),
         fuzz.check_analysis_on_edited_cells, args.runs, True),
        ("prognosis run", fuzz.yaml_text(gbsg2), fuzz.check_cli_run, max(1, args.runs // 10), False),
    ]
    total_unexpected = 0
    for name, strategy, check, n, star in families:
        start = time.perf_counter()
        counts, unexpected = run_family(name, strategy, check, n, args.seed, star=star)
        seconds = time.perf_counter() - start
        print(f"\n== {name}: {sum(counts.values())} examples in {seconds:.1f} s")
        for kind, count in counts.most_common():
            print(f"  {count:6d}  {kind}")
        for line in unexpected:
            print(f"  ! {line}")
        total_unexpected += sum(c for k, c in counts.items() if k.startswith("UNEXPECTED"))
    print(f"\nunexpected outcomes: {total_unexpected}")
    return 1 if total_unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
