"""results.schema.json: every property described, and docs/results_schema.md generated from it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from prognosis.analysis.result import results_schema
from prognosis.schemas.document import iter_properties, render

PAGE = Path(__file__).resolve().parents[1] / "docs" / "results_schema.md"


def test_every_property_at_every_depth_has_a_description():
    schema = results_schema()
    properties = list(iter_properties(schema))
    # depth: properties of array items, mapping values, oneOf branches and $defs are all reached
    paths = {path for path, _ in properties}
    assert {"km.groups.*.survival[].estimate", "competing.cif.*.cumulative_incidence[].upper",
            "$defs.term.hazard_ratio", "followup.note", "flow[].excluded"} <= paths
    undescribed = [path for path, node in properties if not str(node.get("description", "")).strip()]
    assert undescribed == []
    for name, node in schema["$defs"].items():
        assert node.get("description"), f"$defs.{name}"


def test_the_walk_finds_an_undescribed_property():
    schema = {"properties": {"a": {"description": "x", "type": "array",
                                   "items": {"oneOf": [{"type": "null"}, {"properties": {"b": {"type": "number"}}}]}}}}
    assert [(p, bool(n.get("description"))) for p, n in iter_properties(schema)] == [("a", True), ("a[].b", False)]


@pytest.mark.parametrize("term, scale", [("hazard_ratio", "ratio scale"), ("coef", "log"), ("se", "log")])
def test_estimates_say_their_scale(term, scale):
    assert scale in results_schema()["$defs"]["term"]["properties"][term]["description"]


def test_times_say_their_unit():
    survival = results_schema()["properties"]["km"]["properties"]["groups"]["additionalProperties"]
    time = survival["properties"]["survival"]["items"]["properties"]["time"]
    assert "endpoint's unit" in time["description"]


def test_the_reference_page_is_up_to_date():
    # regenerate with: python -m prognosis.schemas.document > docs/results_schema.md
    assert PAGE.read_text(encoding="utf-8") == render(), "docs/results_schema.md is stale; regenerate it"


def test_the_page_has_one_table_per_object_and_the_module_runs():
    text = subprocess.run([sys.executable, "-m", "prognosis.schemas.document"], capture_output=True, text=True,
                          check=True).stdout
    assert text == render()
    for heading in ("## results.json (top level)", "## km.groups.*.survival[]", "## $defs: term",
                    "## provenance.inputs.*"):
        assert heading in text
    assert "| `hazard_ratio` | number or null | yes | Hazard ratio, exp(coef), on the ratio scale" in text
