"""From a bare table to an analysis a reviewer can check against R: `prognosis init`, a few edits,
`prognosis run` (issue 11, "Done when").

Reference: tests/fixtures/derive/make_reference.R (R 4.2.2, survival 3.5.3) derives grade3 (III vs
I-II), nodes4 (>= 4 nodes), age10 (age / 10) and lpgr in base R, keeps tsize <= 50 and fits
coxph(Surv(time, cens) ~ grade3 + nodes4 + age10 + horTh + lpgr, ties = "efron").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from prognosis.cli import app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GBSG2 = FIXTURES / "gbsg2" / "gbsg2.csv"

# What a user adds to the drafted spec: the marker, the adjustment, and the study's own variables.
EDITS = {
    "marker: CHOOSE_A_MARKER": "marker: grade3",
    "covariates: []": "covariates: [nodes4, age10, horTh, lpgr]",
}
ADDED = """
derive:
  grade3: {from: tgrade, map: {I: "I-II", II: "I-II", III: "III"}, label: "Tumour grade (III vs I-II)"}
  nodes4: {from: pnodes, cut: [4], labels: ["0-3", "4+"]}
  age10:  {expr: "age / 10", label: "Age (per 10 years)"}
  lpgr:   {expr: "log2(progrec + 1)"}
population: ["tsize <= 50"]
km: {by: grade3, times: [1, 3]}
"""


def _edit(text: str) -> str:
    lines = []
    for line in text.splitlines():
        for start, replacement in EDITS.items():
            if line.startswith(start):
                line = replacement
        lines.append(line)
    assert [line for line in lines if line in EDITS.values()] == list(EDITS.values()), "the draft changed shape"
    return "\n".join(lines) + "\n" + ADDED


@pytest.fixture(scope="module")
def analysed(tmp_path_factory) -> tuple[dict, Path]:
    folder = tmp_path_factory.mktemp("init")
    runner = CliRunner()
    drafted = runner.invoke(app, ["init", str(GBSG2), "--out", str(folder), "--name", "gbsg2"])
    assert drafted.exit_code == 0, drafted.output
    spec = folder / "analyses" / "gbsg2.yaml"
    spec.write_text(_edit(spec.read_text(encoding="utf-8")), encoding="utf-8")
    ran = runner.invoke(app, ["run", str(spec), "--out", str(folder / "report"), "--no-progress"])
    assert ran.exit_code == 0, ran.output
    return json.loads((folder / "report" / "results.json").read_text(encoding="utf-8")), folder


def test_adjusted_hazard_ratios_equal_r_on_the_derived_data(analysed):
    document, _ = analysed
    expected = json.loads((FIXTURES / "derive" / "reference.json").read_text())["grade3"]
    terms = document["cox"]["adjusted"]["terms"]
    assert list(terms) == expected["terms"]   # grade3[III], nodes4[4+], age10, horTh[yes], lpgr
    # survival::coxph(..., ties = "efron") on the same derived subset; rtol 1e-6
    assert_allclose([terms[t]["coef"] for t in expected["terms"]], expected["coef"], rtol=1e-6)
    assert_allclose([terms[t]["se"] for t in expected["terms"]], expected["se"], rtol=1e-6)
    assert (document["n"], document["events"]) == (expected["n"], expected["events"])


def test_every_derive_and_filter_step_is_in_the_flow_and_provenance(analysed):
    document, _ = analysed
    reference = json.loads((FIXTURES / "derive" / "reference.json").read_text())
    flow = document["flow"]
    assert document["n"] + sum(step["excluded"] for step in flow) == flow[0]["n_before"] == reference["n_read"]
    filters = [step for step in flow if "tsize <= 50" in json.dumps(step)]
    assert len(filters) == 1 and filters[0]["excluded"] == reference["excluded_by_population"]
    derived = [name for name in ("grade3", "nodes4", "age10", "lpgr") if any(name in json.dumps(s) for s in flow)]
    assert derived == ["grade3", "nodes4", "age10", "lpgr"]
    provenance = document["provenance"]
    assert [entry["name"] for entry in provenance["derive"]] == ["grade3", "nodes4", "age10", "lpgr"]
    assert provenance["population"] == ["tsize <= 50"]
