"""One analysis, top to bottom: tables -> cohort -> Kaplan–Meier and Cox -> result."""

from __future__ import annotations

import logging
import warnings

from prognosis.cohort import assemble_cohort, read_table
from prognosis.cohort.readers import Table
from prognosis.errors import DataValidationError, PrognosisWarning, SpecError
from prognosis.provenance import provenance
from prognosis.results import AnalysisResult
from prognosis.spec import AnalysisSpec, TableSpec
from prognosis.stats import compare_models, kaplan_meier_by
from prognosis.stats.design import level_labels

logger = logging.getLogger(__name__)


def read_tables(specs: tuple[TableSpec, ...]) -> list[Table]:
    """Read and validate every table, reporting the violations of all tables together."""
    tables, violations = [], []
    for spec in specs:
        try:
            tables.append(read_table(spec.name, spec.path, spec.dictionary))
        except DataValidationError as exc:
            violations.extend(exc.violations)
    if violations:
        raise DataValidationError(violations)
    return tables


def _question(spec: AnalysisSpec, result_vars: dict) -> str:
    marker = result_vars[spec.marker.name]
    names = [c.name for c in spec.covariates]
    adjusted = (", ".join(names[:-1]) + " and " + names[-1]) if len(names) > 1 else (names[0] if names else "")
    beyond = f", beyond {adjusted}" if adjusted else ""
    return f"Does {marker.name} ({marker.label}) predict {spec.endpoint.event}{beyond}?"


def run(spec: AnalysisSpec) -> AnalysisResult:
    """Run the analysis a spec describes.

    Parameters
    ----------
    spec : AnalysisSpec
        See :func:`prognosis.spec.load_spec`.

    Returns
    -------
    AnalysisResult

    Raises
    ------
    SpecError, DictionaryError, DataValidationError, ModelError
        With the file, row and column at fault where there is one.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PrognosisWarning)
        tables = read_tables(spec.tables)
        try:
            cohort = assemble_cohort(tables, spec.join, spec.endpoint, spec.model_variables, extra=(spec.km.by,))
        except SpecError as exc:  # name the spec whose key points at the wrong column
            raise SpecError(f"{spec.path.name if spec.path else 'spec'}: {exc}") from None
        by = cohort.variables[spec.km.by]
        km = kaplan_meier_by(cohort.time, cohort.event, level_labels(cohort.data[by.name], by),
                             levels=by.spec.category_levels or None, by=by.name, times=spec.km.times)
        models = compare_models(cohort, spec.marker.name, tuple(c.name for c in spec.covariates))
    notes = tuple(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, PrognosisWarning)))
    for note in notes:
        logger.warning(note)
    return AnalysisResult(
        title=spec.title, question=_question(spec, cohort.variables), endpoint=spec.endpoint.event,
        unit=spec.endpoint.unit, horizon=spec.endpoint.horizon,
        n=cohort.n, events=cohort.events, flow=cohort.flow, km=km, models=models,
        variables=cohort.variables, marker=spec.marker.name, covariates=tuple(c.name for c in spec.covariates),
        provenance=provenance(spec, tables), warnings=notes,
    )
