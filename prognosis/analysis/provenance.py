"""What produced a result: versions, input files and their checksums, and the spec as written."""

from __future__ import annotations

import platform
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from prognosis import __version__
from prognosis.cohort.readers import IN_MEMORY, Table, sha256_of
from prognosis.spec import AnalysisSpec

_LIBRARIES = ("numpy", "pandas", "scipy", "statsmodels", "lifelines", "pandera", "matplotlib")


def _version_of(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def provenance(spec: AnalysisSpec, tables: list[Table]) -> dict[str, Any]:
    """Versions, inputs (path as written in the spec, sha256, rows) and the spec itself."""
    written = {t.get("name"): t for t in spec.raw.get("tables", []) if isinstance(t, dict)}
    inputs = {}
    for table in tables:
        declared = written.get(table.name, {})
        table_spec = next(s for s in spec.tables if s.name == table.name)
        dictionary_path = table_spec.dictionary
        # as written in the spec, unless the caller passed a DataFrame or another file instead
        if table.in_memory:
            path = IN_MEMORY
        elif table.path == str(table_spec.path):
            path = declared.get("path", table.path)
        else:
            path = table.path
        inputs[table.name] = {
            "path": path,
            "sha256": table.sha256,
            "rows": table.n_rows,
            "dictionary": declared.get("dictionary", str(dictionary_path)),
            "dictionary_sha256": sha256_of(dictionary_path),
        }
    return {
        "prognosis_version": __version__,
        "python_version": platform.python_version(),
        "libraries": {name: _version_of(name) for name in _LIBRARIES},
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "spec_path": spec.path.name if spec.path else None,
        "spec": spec.raw,
        # The derivations and filters as parsed (the spec above holds them as written); their
        # counts are flow steps, so the cohort's patients can be rebuilt from the inputs alone.
        "derive": [d.to_dict() for d in spec.derive],
        "population": [f.text for f in spec.population],
        "inputs": inputs,
    }
