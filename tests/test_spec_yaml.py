"""Tests of prognosis/_yaml.py: the strict YAML reader behind specs, dictionaries and --params.

Issue 9, defect 11 (duplicate keys were silently accepted, the last one winning) and defect 17
(an alias bomb in the title exhausted memory).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from prognosis._yaml import MAX_EXPANDED_NODES, parse_yaml, read_yaml
from prognosis.errors import DictionaryError, SpecError


def write(tmp_path: Path, text: str, name: str = "study.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def read_error(tmp_path: Path, text: str, name: str = "study.yaml") -> str:
    with pytest.raises(SpecError) as info:
        read_yaml(write(tmp_path, text, name), error=SpecError, what="analysis spec")
    return str(info.value)


# --- duplicate keys --------------------------------------------------------------------------


def test_a_top_level_key_given_twice_names_file_line_and_key(tmp_path):
    message = read_error(tmp_path, """\
        marker: casting
        covariates: [age, grade]
        join: patient_id
        covariates: [er]
        """)
    assert "study.yaml" in message
    assert "line 4" in message and "'covariates'" in message and "line 2" in message


def test_a_nested_key_given_twice_names_its_path(tmp_path):
    message = read_error(tmp_path, """\
        columns:
          age: {type: numeric, min: 18, max: 110}
          grade: {type: categorical, levels: [1, 2, 3]}
          age: {type: numeric}
        """, name="clinical.yaml")
    assert "clinical.yaml line 4" in message and "'age'" in message and "columns" in message


def test_a_duplicate_inside_a_flow_mapping_is_found(tmp_path):
    message = read_error(tmp_path, "km: {by: casting, times: [5], by: grade}\n")
    assert "line 1" in message and "'by'" in message and "km" in message


def test_keys_equal_as_values_are_duplicates(tmp_path):
    # 1 and 1.0 are one key once read (codes are compared as text, 1.0 -> "1")
    message = read_error(tmp_path, "codes: {1: breast_cancer, 1.0: other}\n")
    assert "appears twice" in message


def test_the_same_key_in_two_different_mappings_is_fine(tmp_path):
    data = read_yaml(write(tmp_path, "a: {x: 1}\nb: {x: 2}\n"), error=SpecError, what="spec")
    assert data == {"a": {"x": 1}, "b": {"x": 2}}


def test_a_merge_key_may_override_what_it_merges(tmp_path):
    # `<<: *base` then `x: 2` is YAML's documented way of overriding, not a duplicate
    data = read_yaml(write(tmp_path, "base: &b {x: 1, y: 1}\nother: {<<: *b, x: 2}\n"), error=SpecError, what="spec")
    assert data["other"] == {"x": 2, "y": 1}


def test_the_error_class_is_the_callers(tmp_path):
    with pytest.raises(DictionaryError, match="appears twice"):
        read_yaml(write(tmp_path, "a: 1\na: 2\n"), error=DictionaryError, what="data dictionary")


# --- bounded work ----------------------------------------------------------------------------


BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
title: *i
"""


def test_an_alias_bomb_is_refused_before_it_is_built(tmp_path):
    message = read_error(tmp_path, BILLION_LAUGHS)
    assert "study.yaml" in message and "alias" in message and f"{MAX_EXPANDED_NODES:,}" in message


def test_a_few_harmless_aliases_are_still_read(tmp_path):
    data = read_yaml(write(tmp_path, "levels: &g [1, 2, 3]\nother: *g\n"), error=SpecError, what="spec")
    assert data == {"levels": [1, 2, 3], "other": [1, 2, 3]}


def test_a_recursive_alias_is_refused(tmp_path):
    message = read_error(tmp_path, "a: &a [1, *a]\n")
    assert "study.yaml" in message and "refers to itself" in message


def test_nesting_deeper_than_python_recursion_is_a_named_error(tmp_path):
    message = read_error(tmp_path, "title: " + "[" * 1500 + "]" * 1500 + "\n")
    assert "study.yaml" in message and "nested" in message


def test_text_given_on_the_command_line_is_read_the_same_way():
    with pytest.raises(SpecError, match="--set x.*appears twice"):
        parse_yaml("{a: 1, a: 2}", error=SpecError, source="--set x")
    with pytest.raises(SpecError, match="alias"):
        parse_yaml(BILLION_LAUGHS, error=SpecError, source="--params")
    assert parse_yaml("0.5", error=SpecError, source="--set x") == 0.5


def test_a_missing_file_and_bad_yaml_keep_their_messages(tmp_path):
    with pytest.raises(SpecError, match="analysis spec .* does not exist"):
        read_yaml(tmp_path / "nope.yaml", error=SpecError, what="analysis spec")
    assert "cannot be read as YAML" in read_error(tmp_path, "a: [1, 2\n")


# --- extract --params / --set ----------------------------------------------------------------


def test_extract_params_with_a_repeated_key_is_refused_by_the_cli(tmp_path):
    from typer.testing import CliRunner

    from prognosis.cli import app

    params = write(tmp_path, "min_contrast: 3\nmin_area_mm2: 0.01\nmin_contrast: 5\n", name="params.yaml")
    result = CliRunner().invoke(app, ["extract", str(tmp_path), "--out", str(tmp_path / "out" / "imaging.csv"),
                                      "--params", str(params)])
    assert result.exit_code == 1, result.output
    assert "params.yaml line 3" in result.output and "'min_contrast' appears twice" in result.output
    assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(app, ["extract", str(tmp_path), "--out", str(tmp_path / "out" / "imaging.csv"),
                                      "--set", "min_contrast={a: 1, a: 2}"])
    assert result.exit_code == 1 and "--set min_contrast line 1" in result.output


def test_a_huge_document_without_aliases_is_named_as_such(tmp_path, monkeypatch):
    monkeypatch.setattr("prognosis._yaml.MAX_EXPANDED_NODES", 1000)  # 100,000 takes seconds to parse
    message = read_error(tmp_path, "levels: [" + ", ".join(["1"] * 1001) + "]\n")
    assert "holds more than 1,000 values" in message and "alias" not in message
