"""The analysis spec: the YAML a study is written in, read into frozen, checked objects.

``load.py`` reads a spec file (tables, join, endpoint, marker, covariates, km) and ``options.py``
its optional keys of the statistical core; ``reader.py`` holds the typed readers both use, which
name the key at fault in every error.
"""

from prognosis.spec.load import (
    DAYS_PER_UNIT,
    AnalysisSpec,
    EndpointSpec,
    KMSpec,
    TableSpec,
    TimeSpec,
    load_spec,
    parse_spec,
)
from prognosis.spec.reader import VariableSpec

__all__ = ["DAYS_PER_UNIT", "AnalysisSpec", "EndpointSpec", "KMSpec", "TableSpec", "TimeSpec", "VariableSpec",
           "load_spec", "parse_spec"]
