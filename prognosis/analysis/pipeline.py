"""One analysis, top to bottom: tables -> cohort -> Kaplan–Meier and Cox -> result."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from prognosis.analysis import sections
from prognosis.cohort import Cohort, assemble_cohort, read_table
from prognosis.cohort.readers import Table
from prognosis.errors import DataValidationError, PrognosisWarning, SpecError
from prognosis.analysis.provenance import provenance
from prognosis.analysis.result import AnalysisResult
from prognosis.spec import AnalysisSpec, TableSpec
from prognosis.stats import compare_models, kaplan_meier_by
from prognosis.stats.design import level_labels

logger = logging.getLogger(__name__)

TableSource = pd.DataFrame | str | Path


def read_tables(specs: tuple[TableSpec, ...], sources: Mapping[str, TableSource] | None = None) -> list[Table]:
    """Read and validate every table, reporting the violations of all tables together.

    ``sources`` maps a table's name to a DataFrame or a path read instead of the spec's ``path``.
    """
    sources = sources or {}
    tables, violations = [], []
    for spec in specs:
        try:
            tables.append(read_table(spec.name, sources.get(spec.name, spec.path), spec.dictionary))
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


def run(spec: AnalysisSpec, *, progress: bool | None = None,
        tables: Mapping[str, TableSource] | None = None,
        on_stage: Callable[[str], None] | None = None) -> AnalysisResult:
    """Run the analysis a spec describes.

    Parameters
    ----------
    spec : AnalysisSpec
        See :func:`prognosis.spec.load_spec`.
    progress : bool, optional
        Progress bars for the bootstrap and multiple imputation: None shows them only on a
        terminal, False never.
    tables : mapping of str to DataFrame or path, optional
        Tables read from these instead of the spec's ``path`` (see :func:`prognosis.analyse`).
    on_stage : callable, optional
        Called with a short description (e.g. ``"assembling the cohort"``) as each stage starts,
        including each optional section that the spec asks for; the CLI prints these.

    Returns
    -------
    AnalysisResult

    Raises
    ------
    SpecError, DictionaryError, DataValidationError, ModelError
        With the file, row and column at fault where there is one.
    """
    options = spec.options
    stage = on_stage or (lambda description: None)
    enabled = _enabled_sections(spec)

    def section(name: str, compute, *args, **kwargs):
        if name in enabled:
            stage(enabled[name])
        return runner.run(name, compute, *args, **kwargs)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PrognosisWarning)
        stage(f"reading {len(spec.tables)} table{'s' if len(spec.tables) != 1 else ''}")
        tables = read_tables(spec.tables, tables)
        stage("assembling the cohort")
        cohort = _assemble(spec, tables)
        stage("Kaplan–Meier and Cox models")
        sections.check_km_groups(cohort, spec)
        by = cohort.variables[spec.km.by]
        km = kaplan_meier_by(cohort.time, cohort.event, level_labels(cohort.data[by.name], by),
                             levels=by.spec.category_levels or None, by=by.name, times=spec.km.times,
                             conf_type=spec.km.conf_type)
        # Beside the core (KM above, the Cox comparison below) every section is optional: one that
        # cannot be computed on this cohort is recorded with its reason and the rest is delivered.
        runner = sections.SectionRunner()
        group_tests = runner.run("group_tests", sections.group_tests, cohort, spec)
        followup = runner.run("followup", sections.followup, cohort)
        models = compare_models(cohort, spec.marker.name, tuple(c.name for c in spec.covariates),
                                ties=options.ties, strata=options.strata, robust=options.robust,
                                cluster=options.cluster, interactions=options.interactions)
        ph = section("ph_test", sections.proportional_hazards, cohort, spec, models)
        validation = section("validation", sections.validation, cohort, spec, models, progress=progress)
        subgroups = section("subgroups", sections.subgroups, cohort, spec)
        misclassification = section("misclassification", sections.misclassification, cohort, spec, models)
        competing, competing_unknown = section("competing", sections.competing, cohort, spec, models,
                                               fallback=(None, 0))
        imputation = section("imputation", sections.imputation, cohort, spec, progress=progress)
        associations = section("associations", sections.associations_section, cohort, spec)
        table1 = section("table1", sections.table1, cohort, spec)
    notes = tuple(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, PrognosisWarning)))
    for note in notes:
        logger.warning(note)
    return AnalysisResult(
        title=spec.title, question=_question(spec, cohort.variables), endpoint=spec.endpoint.event,
        unit=spec.endpoint.unit, horizon=spec.endpoint.horizon,
        n=cohort.n, events=cohort.events, flow=cohort.flow, km=km, models=models,
        variables=cohort.variables, marker=spec.marker.name, covariates=tuple(c.name for c in spec.covariates),
        provenance=provenance(spec, tables), warnings=notes,
        group_tests=group_tests, followup=followup, ph_test=ph, validation=validation, subgroups=subgroups,
        competing=competing, competing_unknown_cause=competing_unknown, imputation=imputation,
        associations=associations, table1=table1, misclassification=misclassification, not_computed=tuple(runner.not_computed),
    )


def _enabled_sections(spec: AnalysisSpec) -> dict[str, str]:
    """The optional sections the spec asks for, each with the line announcing it."""
    options = spec.options
    enabled = {
        "ph_test": (options.ph_test, "proportional-hazards test"),
        "validation": (options.validation is not None,
                       f"validation ({options.validation.bootstrap} bootstrap replicates)"
                       if options.validation is not None else ""),
        "subgroups": (bool(options.subgroups), "subgroup analyses"),
        "misclassification": (options.misclassification is not None,
                              f"misclassification bias analysis ({options.misclassification.draws} draws)"
                              if options.misclassification is not None else ""),
        "competing": (options.competing is not None, "competing risks"),
        "imputation": (options.missing.method == "multiple_imputation",
                       f"multiple imputation (m = {options.missing.m})"),
        "associations": (bool(options.associations), "associations with the marker"),
        "table1": (True, "table 1"),
    }
    return {name: line for name, (on, line) in enabled.items() if on}


def _assemble(spec: AnalysisSpec, tables: list[Table]) -> Cohort:
    options = spec.options
    required = {name: "strata" for name in options.strata}
    required.update({name: "km.strata" for name in spec.km.strata})
    if options.cluster:
        required[options.cluster] = "cluster"
    optional = {name: "subgroups" for name in options.subgroups}
    optional.update({name: "associations" for name in options.associations})
    optional.update({name: "associations.adjust_for" for name in options.associations_adjust_for or ()})
    optional.update({name: "table1" for name in options.table1 or ()})
    if options.competing:
        optional[options.competing.column] = "competing.column"
    if spec.marker.name in (options.associations_adjust_for or ()):
        raise SpecError(f"{spec.path.name if spec.path else 'spec'}: associations.adjust_for: {spec.marker.name!r} is "
                        "the marker, the outcome of the association models; adjust for other variables")
    for a, b in options.interactions:
        for name in (a, b):
            if name not in {v.name for v in spec.model_variables}:
                raise SpecError(f"{spec.path.name if spec.path else 'spec'}: interactions: {name!r} is neither "
                                "the marker nor a covariate; add it to covariates first")
    try:
        return assemble_cohort(tables, spec.join, spec.endpoint, spec.model_variables, extra=(spec.km.by,),
                               required=required, optional=optional, derive=spec.derive,
                               population=spec.population)
    except SpecError as exc:  # name the spec whose key points at the wrong column
        source = f"{spec.path.name if spec.path else 'spec'}: "
        raise SpecError(str(exc) if str(exc).startswith(source) else source + str(exc)) from None
