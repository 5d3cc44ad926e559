"""The Python entry point: ``prognosis.analyse(spec, tables=...)``, the CLI's ``run`` without files.

It runs the same pipeline as ``prognosis run`` and raises the same named errors
(:class:`prognosis.errors.PrognosisError` subclasses); nothing is printed and no progress bar is
shown unless asked for. The report is written only by :func:`prognosis.write_report`.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from prognosis.analysis.pipeline import run
from prognosis.analysis.result import AnalysisResult
from prognosis.cohort.readers import IN_MEMORY
from prognosis.errors import SpecError
from prognosis.spec import AnalysisSpec, load_spec
from prognosis.spec.load import parse_spec

logger = logging.getLogger(__name__)

__all__ = ["analyse"]


def _spec_from(spec: str | Path | Mapping[str, Any] | AnalysisSpec,
               in_memory: set[str]) -> AnalysisSpec:
    if isinstance(spec, AnalysisSpec):
        return spec
    if isinstance(spec, Mapping):
        raw = copy.deepcopy(dict(spec))
        # A table given as a DataFrame needs no path in a spec written in Python.
        for item in raw.get("tables") or []:
            if isinstance(item, dict) and item.get("name") in in_memory and "path" not in item:
                item["path"] = IN_MEMORY
        return parse_spec(raw)
    if isinstance(spec, str) and ("\n" in spec or spec.lstrip().startswith(("{", "title:"))):
        raise SpecError("spec: expected the path of a YAML file or a dict of the spec's content, not YAML "
                        "text; read the text with yaml.safe_load and pass the dict")
    if isinstance(spec, (str, Path)):
        return load_spec(spec)
    raise SpecError(f"spec: expected the path of a YAML file or a dict of the spec's content, "
                    f"not a {type(spec).__name__}")


def _check_tables(spec: AnalysisSpec, tables: Mapping[str, Any]) -> dict[str, pd.DataFrame | Path]:
    known = [t.name for t in spec.tables]
    sources: dict[str, pd.DataFrame | Path] = {}
    for name, source in tables.items():
        if name not in known:
            raise SpecError(f"tables={{{name!r}: ...}}: the spec has no table {name!r}; its tables are "
                            f"{', '.join(known)} (the names under `tables:` in the spec)")
        if isinstance(source, pd.DataFrame):
            sources[name] = source
        elif isinstance(source, (str, Path)):
            sources[name] = Path(source).expanduser().resolve()
        else:
            raise SpecError(f"tables={{{name!r}: ...}}: expected a pandas DataFrame or the path of a file, "
                            f"not a {type(source).__name__}")
    return sources


def analyse(spec: str | Path | Mapping[str, Any] | AnalysisSpec, *,
            tables: Mapping[str, pd.DataFrame | str | Path] | None = None,
            progress: bool = False) -> AnalysisResult:
    """Run the analysis a spec describes and return its result (no file is written).

    Parameters
    ----------
    spec : str, Path, dict or AnalysisSpec
        The path of a YAML spec (relative table paths resolve against its folder), or a dict of
        the spec's content, as ``yaml.safe_load`` would give it (relative paths resolve against
        the current folder; a table passed in ``tables`` as a DataFrame may omit ``path``).
    tables : mapping of str to DataFrame or path, optional
        Tables to read instead of the spec's ``path``, by the table's ``name``. A DataFrame is
        validated against the table's dictionary exactly as a file would be, with the same
        violations; a violation's row is the row's position + 2, the row it has once written to
        a spreadsheet with its header (the index is ignored). Provenance records its path as
        ``"in-memory DataFrame"`` and the SHA-256 of ``df.to_csv(index=False)``.
    progress : bool, default False
        Progress bars for long steps (bootstrap, imputation), on a terminal only.

    Returns
    -------
    AnalysisResult
        ``to_dict()`` is the results.json document; ``to_frame()`` the hazard ratios; in
        Jupyter it shows as a summary table.

    Raises
    ------
    SpecError, DictionaryError, DataValidationError, ModelError
        The errors ``prognosis run`` reports, naming the spec key, file, row and column.

    See Also
    --------
    prognosis.write_report : write the report folder of a result.

    Examples
    --------
    >>> import pandas as pd, prognosis
    >>> clinical = pd.read_csv("data/demo/clinical.csv")
    >>> result = prognosis.analyse("analyses/demo.yaml", tables={"clinical": clinical})  # doctest: +SKIP
    >>> result.to_frame()                                                                # doctest: +SKIP
    """
    tables = dict(tables or {})
    in_memory = {name for name, source in tables.items() if isinstance(source, pd.DataFrame)}
    analysis = _spec_from(spec, in_memory)
    sources = _check_tables(analysis, tables)
    return run(analysis, progress=None if progress else False, tables=sources)
