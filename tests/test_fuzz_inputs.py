"""Bad input, fuzzed (issue 9): mutated specs, mutated dictionaries and random tables.

Every outcome must be a result or one of prognosis's named errors (a PrognosisError subclass):
never another exception, never a half-written output folder, never a row lost without a flow
step (n + exclusions = patients read). The strategies and the outcome checks live here and are
reused by ``benchmarks/fuzz_inputs.py``, the longer run that counts each outcome.

CI runs a few hundred examples, derandomised so that a failure reproduces on every run.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prognosis.cohort import read_table
from prognosis.dictionary import load_dictionary
from prognosis.errors import PrognosisError
from prognosis.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
DEMO_SPEC = ROOT / "analyses" / "demo.yaml"
GBSG2_SPEC = ROOT / "tests" / "fixtures" / "gbsg2" / "gbsg2_spec.yaml"
DICTIONARY_DIR = ROOT / "data_dictionary"
DEMO_TABLES = ("clinical", "pathology", "imaging")

CI = settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- values a user (or a broken export) might put anywhere ------------------------------------

ODD_TEXT = (
    "", " ", "\t", "NA", "nan", "NaN", "inf", "-inf", "Infinity", "1e309", "-0", "yes", "no", "true",
    "=1+1", "+1", "-1", "@SUM(A1)", "../../outside.csv", "a\x00b", "é☃🙂", "\u202eevil", "line\nbreak",
    "row", "index", "level_0", "n", "a b", "a.b", "x" * 300, "1,2", '"quoted"', "2020-02-30", "01/02/2020",
    "positive", "negative", "unknown_level", "casting", "grade", "age", "patient_id",
)
ODD_NUMBERS = (0, -1, 1, 2, 3, 0.5, -0.5, 1e-300, 1e308, -1e308, math.inf, -math.inf, math.nan, 10**12, 2**64, 10**30, 10**400)
ODD_VALUES = (None, True, False, [], {}, [None], {"a": 1}, [1, 2, 3], [[1, 2]], *ODD_NUMBERS, *ODD_TEXT)

junk = st.one_of(
    st.sampled_from(ODD_VALUES),
    st.text(max_size=12),
    st.integers(-10**6, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.sampled_from(ODD_VALUES[9:]), max_size=4),
)
junk_key = st.one_of(st.sampled_from(ODD_TEXT), st.text(min_size=1, max_size=10), st.integers(-5, 5),
                     st.sampled_from((None, True, False, 1.5)))


# --- mutating a YAML tree ----------------------------------------------------------------------


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_paths(value, (*prefix, i)))
    return out


def _get(node: Any, path: tuple) -> Any:
    for part in path:
        node = node[part]
    return node


def _values(node: Any) -> list[Any]:
    return [_get(node, p) for p in _paths(node) if p]


@st.composite
def mutated_tree(draw: Callable, base: Any, vocabulary: tuple[str, ...] = ()) -> Any:
    """``base`` with 1 to 3 mutations: drop, replace, rename, insert, swap or duplicate a node."""
    tree = copy.deepcopy(base)
    words = st.one_of(junk_key, st.sampled_from(vocabulary)) if vocabulary else junk_key
    # deep-copied: sampled_from hands out the same list or dict objects, which a later insert would grow
    values = (st.one_of(junk, st.sampled_from(vocabulary)) if vocabulary else junk).map(copy.deepcopy)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(tree) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _get(tree, path[:-1]), path[-1]
        op = draw(st.sampled_from(("drop", "replace", "replace", "rename", "insert", "swap", "duplicate")))
        if op == "drop":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(values)
        elif op == "rename" and isinstance(parent, dict):
            new = draw(words)
            parent[new] = parent.pop(key)
        elif op == "insert":
            target = parent[key]
            if isinstance(target, dict):
                target[draw(words)] = draw(values)
            elif isinstance(target, list):
                target.insert(draw(st.integers(0, len(target))), draw(values))
            else:
                parent[key] = [target, draw(values)]
        elif op == "swap":
            parent[key] = copy.deepcopy(draw(st.sampled_from(_values(tree))))
        elif op == "duplicate" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
    return tree


@st.composite
def yaml_text(draw: Callable, tree_strategy: st.SearchStrategy) -> str:
    """Dump a mutated tree as block YAML; sometimes repeat one line (a key given twice) or cut the file."""
    text = yaml.safe_dump(draw(tree_strategy), sort_keys=False, allow_unicode=True, default_flow_style=False)
    lines = text.splitlines(keepends=True)
    edit = draw(st.sampled_from(("none", "none", "none", "repeat_line", "truncate")))
    if edit == "repeat_line" and lines:
        i = draw(st.integers(0, len(lines) - 1))
        lines.insert(i + 1, lines[i])
    elif edit == "truncate" and lines:
        lines = lines[: draw(st.integers(0, len(lines) - 1))]
    return "".join(lines)


# --- the bases ---------------------------------------------------------------------------------


def _absolute_tables(spec: dict, folder: Path, data_folder: Path | None = None) -> dict:
    """The spec with table and dictionary paths made absolute, so it can be written anywhere."""
    spec = copy.deepcopy(spec)
    for table in spec["tables"]:
        path = (folder / table["path"]).resolve()
        table["path"] = str(data_folder / path.name if data_folder else path)
        table["dictionary"] = str((folder / table["dictionary"]).resolve())
    return spec


def base_specs() -> dict[str, dict]:
    return {
        "demo": _absolute_tables(yaml.safe_load(DEMO_SPEC.read_text(encoding="utf-8")), DEMO_SPEC.parent),
        "gbsg2": _absolute_tables(yaml.safe_load(GBSG2_SPEC.read_text(encoding="utf-8")), GBSG2_SPEC.parent),
    }


def base_dictionaries() -> dict[str, dict]:
    return {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(DICTIONARY_DIR.glob("*.yaml"))}


SPEC_WORDS = ("tables", "join", "endpoint", "marker", "covariates", "km", "ties", "robust", "cluster", "strata",
              "ph_test", "interactions", "subgroups", "validation", "missing", "associations", "competing",
              "table1", "bootstrap", "seed", "times", "groups", "m", "iterations", "horizon", "by", "weights",
              "rho", "gamma", "name", "reference", "path", "dictionary", "time", "event", "unit", "years", "days",
              "age", "grade", "er", "her2", "casting", "death_cause", "horTh", "tgrade", "pnodes", "cens")
DICTIONARY_WORDS = ("table", "key", "missing", "allow_extra", "columns", "type", "required", "levels", "codes",
                    "min", "max", "format", "label", "unit", "numeric", "categorical", "binary", "date", "string",
                    "patient_id", "laterality", "positive", "negative", "%Y-%m-%d", "%d/%m/%Y", "NA", "-9")


# --- outcomes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """``kind`` is "ok" or the PrognosisError class name; anything else is raised by the check."""

    kind: str


def outcome_of(call: Callable[[], Any]) -> tuple[Outcome, Any]:
    """Run ``call``; a result is "ok", a named error its class name. Any other exception propagates."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Outcome("ok"), call()
    except PrognosisError as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        return Outcome(type(exc).__name__), exc


def check_spec_text(text: str) -> Outcome:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "analyses" / "fuzzed.yaml"
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
        return outcome_of(lambda: load_spec(path))[0]


def check_flow(result: Any) -> None:
    """n + every exclusion = patients read (the first flow step)."""
    flow = result.flow
    assert flow and flow[0].step == "patients read"
    assert result.n + sum(step.excluded for step in flow) == flow[0].n_before, [s.to_dict() for s in flow]


def check_analysis(text: str) -> Outcome:
    """Load and run the analysis in-process (no report): a result with a balanced flow, or a named error."""
    from prognosis.analysis.pipeline import run

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "analyses" / "fuzzed.yaml"
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
        outcome, result = outcome_of(lambda: run(load_spec(path), progress=False))
        if outcome.kind == "ok":
            check_flow(result)
        return outcome


def check_cli_run(text: str) -> Outcome:
    """``prognosis run`` into a fresh folder: exit 0 with a whole report, or exit 1 and no folder at all."""
    from typer.testing import CliRunner

    from prognosis.cli import app

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "analyses" / "fuzzed.yaml"
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
        out = Path(folder) / "reports" / "fuzzed"
        result = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--no-progress"])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        leftovers = [p.name for p in out.parent.iterdir() if p.name != "fuzzed"] if out.parent.exists() else []
        assert not leftovers, f"staging folders left behind: {leftovers}"
        if result.exit_code == 0:
            assert {"report.html", "results.json"} <= {p.name for p in out.iterdir()}
            results = json.loads((out / "results.json").read_text(encoding="utf-8"))
            flow = results["flow"]
            assert results["n"] + sum(s["excluded"] for s in flow) == flow[0]["n_before"]
            return Outcome("ok")
        assert result.exit_code == 1, (result.exit_code, result.output)
        assert result.output.startswith("error: ") or "\nerror: " in result.output, result.output
        assert not out.exists(), "a failed run left an output folder"
        return Outcome("error")


def check_dictionary_text(text: str, table: str) -> Outcome:
    """Load a mutated dictionary and, if it loads, read its demo table against it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{table}.yaml"
        path.write_text(text, encoding="utf-8")
        outcome, dictionary = outcome_of(lambda: load_dictionary(path))
        if outcome.kind != "ok" or table not in DEMO_TABLES:
            return outcome
        return outcome_of(lambda: read_table(table, ROOT / "data" / "demo" / f"{table}.csv", dictionary))[0]


# --- random tables -----------------------------------------------------------------------------

ODD_HEADERS = ("row", "index", "level_0", "n", "", " ", "a b", "a.b", "é", "☃", "patient id", "Unnamed: 0",
               "age.1", "0", "nan", "=cmd", "patient_id ")


def _cells_for(column: dict | None) -> st.SearchStrategy:
    valid: list[str] = []
    if column is not None:
        kind = column.get("type")
        valid += [str(v) for v in column.get("levels", [])] + [str(v) for v in column.get("codes", {})]
        if kind == "binary":
            valid += ["0", "1"]
        if kind == "numeric":
            low, high = column.get("min", -1e3), column.get("max", 1e4)
            valid += [str(low), str(high), str((low + high) / 2)]
        if kind == "date":
            valid += ["2005-04-28", "2014-12-31"]
        if kind == "string":
            valid += ["D0001", "D0002", "P1"]
    odd = st.one_of(st.sampled_from(ODD_TEXT), st.text(max_size=6), st.floats(allow_nan=True, allow_infinity=True).map(repr))
    # mostly valid cells, so that tables get past the first violation often enough to test the rest
    return st.integers(0, 9).flatmap(lambda i: st.sampled_from(valid) if valid and i < 7 else odd)


@st.composite
def random_table(draw: Callable, dictionaries: dict[str, dict]) -> tuple[str, dict, list[str], list[list[str]]]:
    """(table, dictionary, header, rows): declared columns, some dropped, repeated, renamed or added.

    ``rename_declared`` renames a column in the dictionary and the header alike, so that legal but
    awkward names (``row``, ``index``, ``level_0``, ``n``, spaces, dots, non-ASCII) reach validation.
    """
    name = draw(st.sampled_from(DEMO_TABLES))
    dictionary = copy.deepcopy(dictionaries[name])
    columns = dictionary["columns"]
    header = [c for c in columns if draw(st.integers(0, 9)) > 0]  # drop about one column in ten
    for _ in range(draw(st.integers(0, 2))):
        op = draw(st.sampled_from(("repeat", "rename", "add", "rename_declared", "rename_declared")))
        if op == "repeat" and header:
            header.insert(draw(st.integers(0, len(header))), draw(st.sampled_from(header)))
        elif op == "rename" and header:
            header[draw(st.integers(0, len(header) - 1))] = draw(st.sampled_from(ODD_HEADERS))
        elif op == "rename_declared" and any(h in columns for h in header):
            old = draw(st.sampled_from([h for h in header if h in columns]))
            new = draw(st.sampled_from(ODD_HEADERS).filter(lambda h: h.strip() and h not in columns))
            columns[new] = columns.pop(old)
            header = [new if h == old else h for h in header]
            key = dictionary.get("key")
            dictionary["key"] = new if key == old else ([new if k == old else k for k in key] if isinstance(key, list) else key)
        else:
            header.append(draw(st.one_of(st.sampled_from(ODD_HEADERS), st.text(min_size=1, max_size=5))))
    n_rows = draw(st.integers(0, 6))
    key_columns = dictionary.get("key")
    key_columns = set(key_columns if isinstance(key_columns, list) else [key_columns])
    rows = []
    for _ in range(n_rows):
        rows.append([draw(st.sampled_from(("D0001", "D0002", "D0003", "", "D0001 "))) if h in key_columns
                     and columns.get(h, {}).get("type") == "string" else draw(_cells_for(columns.get(h)))
                     for h in header])
    return name, dictionary, header, rows


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def check_table(name: str, dictionary: dict, header: list[str], rows: list[list[str]]) -> Outcome:
    """A random table read against its (possibly renamed) demo dictionary: every row kept, or a named error."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{name}.csv"
        write_csv(path, header, rows)
        dictionary_path = Path(folder) / f"{name}.yaml"
        dictionary_path.write_text(yaml.safe_dump(dictionary, sort_keys=False, allow_unicode=True), encoding="utf-8")
        outcome, table = outcome_of(lambda: read_table(name, path, dictionary_path))
        if outcome.kind == "ok":
            # trailing blank lines are dropped, as a spreadsheet does; no other row may vanish
            filled = [i for i, row in enumerate(rows) if any(cell != "" for cell in row)]
            assert table.n_rows == (filled[-1] + 1 if filled else 0), (table.n_rows, len(rows))
        return outcome


# --- whole analyses on edited cells ------------------------------------------------------------

GBSG2_CSV = GBSG2_SPEC.parent / "gbsg2.csv"
GBSG2_COLUMNS = ("horTh", "age", "menostat", "tsize", "tgrade", "pnodes", "progrec", "estrec", "time", "cens")
cell_edits = st.lists(st.tuples(st.integers(0, 685), st.sampled_from(GBSG2_COLUMNS),
                                st.one_of(st.sampled_from(("", "", "NA", "0", "-1", "inf", "nan", "1e309", "yes", "III",
                                                           "Pre", "2", "999999")), st.text(max_size=4))),
                      max_size=6)


GBSG2_OPTIONS = {
    "ties": st.sampled_from(("efron", "breslow")),
    "robust": st.booleans(),
    "strata": st.sampled_from((["menostat"], ["tgrade"], ["horTh"])),
    "ph_test": st.booleans(),
    "interactions": st.sampled_from(([["horTh", "menostat"]], [["horTh", "age"]], [["age", "tgrade"]])),
    "subgroups": st.sampled_from((["menostat"], ["tgrade"], ["menostat", "tgrade"])),
    "validation": st.fixed_dictionaries({"times": st.sampled_from(([365], [365, 1825], [3000], [1, 2]))},
                                        optional={"bootstrap": st.integers(0, 3), "groups": st.integers(2, 12),
                                                  "seed": st.integers(0, 5)}),
    "missing": st.fixed_dictionaries({"method": st.sampled_from(("complete_case", "multiple_imputation"))},
                                     optional={"m": st.integers(2, 3), "iterations": st.integers(1, 2)}),
    "associations": st.sampled_from((["tgrade"], ["menostat", "tgrade"], ["age"])),
    "table1": st.sampled_from((["age", "tgrade"], ["time"], [])),
    "km": st.fixed_dictionaries({"by": st.sampled_from(("horTh", "tgrade", "menostat", "cens"))},
                                optional={"times": st.sampled_from(([365], [100, 5000], [])),
                                          "strata": st.sampled_from((["menostat"], ["tgrade"])),
                                          "conf_type": st.sampled_from(("log-log", "log", "plain")),
                                          "weights": st.fixed_dictionaries({}, optional={
                                              "rho": st.sampled_from((0, 1, 0.5)), "gamma": st.sampled_from((0, 1))})}),
    "endpoint": st.fixed_dictionaries({"time": st.just({"column": "time", "unit": "days"}), "event": st.just("cens")},
                                      optional={"unit": st.sampled_from(("days", "months", "years")),
                                                "horizon": st.sampled_from((365, 1000, 2659, 5000))}),
}


@st.composite
def gbsg2_with_options(draw: Callable) -> dict:
    """The GBSG2 spec with a few plausible optional keys, so that runs reach the statistics."""
    spec = copy.deepcopy(SPECS["gbsg2"])
    for key in draw(st.lists(st.sampled_from(sorted(GBSG2_OPTIONS)), max_size=3, unique=True)):
        spec[key] = draw(GBSG2_OPTIONS[key])
    if spec.get("endpoint", {}).get("unit") in ("months", "years"):
        spec["km"] = {**spec["km"], "times": [1, 3]}  # times are in the endpoint's unit
    return spec


def check_analysis_on_edited_cells(text: str, edits: list[tuple[int, str, str]]) -> Outcome:
    """A mutated GBSG2 spec run on a copy of gbsg2.csv with a few cells changed (blanks, junk, non-finite)."""
    frame = pd.read_csv(GBSG2_CSV, dtype=str, keep_default_na=False)
    for row, column, value in edits:
        frame.loc[row, column] = value
    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "gbsg2.csv"
        frame.to_csv(csv_path, index=False)
        return check_analysis(text.replace(str(GBSG2_CSV), str(csv_path)))


# --- the CI tests ------------------------------------------------------------------------------

SPECS = base_specs()
DICTIONARIES = base_dictionaries()


@CI
@given(text=yaml_text(st.sampled_from(tuple(SPECS.values())).flatmap(lambda s: mutated_tree(s, SPEC_WORDS))))
def test_mutated_specs_load_or_fail_by_name(text):
    check_spec_text(text)


@settings(CI, max_examples=25)
@given(text=yaml_text(gbsg2_with_options().flatmap(lambda s: st.one_of(st.just(s), mutated_tree(s, SPEC_WORDS)))),
       edits=cell_edits)
def test_mutated_specs_run_or_fail_by_name(text, edits):
    check_analysis_on_edited_cells(text, edits)


@settings(CI, max_examples=4)
@given(text=yaml_text(gbsg2_with_options().flatmap(lambda s: st.one_of(st.just(s), mutated_tree(s, SPEC_WORDS)))))
def test_prognosis_run_on_mutated_specs_leaves_a_whole_report_or_none(text):
    check_cli_run(text)


@settings(CI, max_examples=60)
@given(data=st.sampled_from(sorted(DICTIONARIES)).flatmap(
    lambda name: st.tuples(st.just(name), yaml_text(mutated_tree(DICTIONARIES[name], DICTIONARY_WORDS)))))
def test_mutated_dictionaries_load_or_fail_by_name(data):
    name, text = data
    check_dictionary_text(text, name)


@settings(CI, max_examples=100)
@given(table=random_table(DICTIONARIES))
def test_random_tables_are_read_or_refused_by_name(table):
    check_table(*table)


def test_the_unmutated_bases_run():
    """The fuzzing starts from inputs that work, so a refusal is the mutation's doing."""
    for name, spec in SPECS.items():
        assert check_spec_text(yaml.safe_dump(spec, sort_keys=False)).kind == "ok", name
    for name, dictionary in DICTIONARIES.items():
        assert check_dictionary_text(yaml.safe_dump(dictionary, sort_keys=False, allow_unicode=True), name).kind == "ok"
    assert check_analysis(yaml.safe_dump(SPECS["gbsg2"], sort_keys=False)).kind == "ok"


@pytest.mark.parametrize("text", [
    "title: t\ntitle: u\n",
    "tables: [{name: a, path: \"a\\0b.csv\", dictionary: d.yaml}]\njoin: id\nendpoint: {time: {column: t}, event: e}\nmarker: m\n",
])
def test_found_by_fuzzing(text):
    """Inputs the fuzzer once found escaping as raw exceptions, kept as regression cases."""
    assert check_spec_text(text).kind == "SpecError"


@pytest.mark.parametrize(("changes", "edits", "expected"), [
    ({"km": {"by": "menostat", "strata": ["menostat"]}}, [], "SpecError"),          # was LinAlgError
    ({}, [(608, "estrec", "inf"), (453, "estrec", "inf")], "DataValidationError"),   # was LinAlgError
    ({"missing": {"method": "multiple_imputation", "m": 2}}, [], "ok"),              # was ZeroDivisionError
], ids=["km-by-in-strata", "inf-cell", "mi-nothing-missing"])
def test_analyses_found_by_fuzzing(changes, edits, expected):
    """Analyses the fuzzer once found escaping as raw exceptions (defects 14 and 15)."""
    spec = {**copy.deepcopy(SPECS["gbsg2"]), **changes}
    outcome = check_analysis_on_edited_cells(yaml.safe_dump(spec, sort_keys=False), edits)
    assert outcome.kind == expected
