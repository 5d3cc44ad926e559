"""examples/quickstart.ipynb runs: its code cells, in order, in a fresh namespace at the repo root.

The notebook is ours, so exec() of its cells is safe here; this avoids jupyter/nbconvert as
test dependencies.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"


def _code_cells() -> list[str]:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def test_the_quickstart_notebook_runs(monkeypatch):
    monkeypatch.chdir(ROOT)
    namespace: dict = {"__name__": "__notebook__"}
    for i, source in enumerate(_code_cells()):
        exec(compile(source, f"{NOTEBOOK.name} code cell {i + 1}", "exec"), namespace)
    result = namespace["result"]
    assert result.provenance["inputs"]["clinical"]["path"] == "in-memory DataFrame"
    assert result.imputation is None and result.validation.bootstrap.B == 0   # the light variant ran
    assert isinstance(result.to_frame(), pd.DataFrame)
    assert "Likelihood-ratio test" in result._repr_html_()


def test_the_notebook_is_committed_without_outputs():
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in cells if c["cell_type"] == "code")
