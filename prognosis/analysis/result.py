"""The analysis result: a frozen snapshot, and its results.json form (schema in
``prognosis/schemas/results.schema.json``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from prognosis._json import finite_or_none as _number
from prognosis.cohort.variable import Variable
from prognosis.cohort.flow import FlowStep
from prognosis.analysis.sections import GroupTests, NotComputed
from prognosis.stats.associations import AssociationsResult
from prognosis.stats.compare import ModelComparison
from prognosis.stats.competing import CompetingRisksResult
from prognosis.stats.followup import FollowUpResult
from prognosis.stats.imputation import ImputationResult
from prognosis.stats.km import KMCurve, KMResult
from prognosis.stats.misclassification import MisclassificationResult
from prognosis.stats.ph import PHTestResult
from prognosis.stats.subgroups import SubgroupResult
from prognosis.stats.table1 import TableOne
from prognosis.stats.validation import ValidationSummary


def _curve_dict(curve: KMCurve) -> dict[str, Any]:
    return {
        "n": curve.n,
        "events": curve.events,
        "median": {"estimate": _number(curve.median.estimate), "lower": _number(curve.median.lower),
                   "upper": _number(curve.median.upper)},
        "survival": [
            {"time": s.time, "estimate": _number(s.estimate), "lower": _number(s.lower),
             "upper": _number(s.upper), "n_at_risk": s.n_at_risk}
            for s in curve.at_times
        ],
    }


def km_to_dict(km: KMResult) -> dict[str, Any]:
    first = next(iter(km.groups.values()))
    return {
        "by": km.by,
        "conf_type": first.conf_type,
        "conf_level": first.conf_level,
        "groups": {level: _curve_dict(curve) for level, curve in km.groups.items()},
        "logrank": km.logrank.to_dict(),
    }


def _variable_dict(var: Variable) -> dict[str, Any]:
    return {"label": var.label, "type": var.spec.type, "table": var.table, "unit": var.spec.unit,
            "reference": var.reference, "levels": list(var.spec.category_levels) or None}


@dataclass(frozen=True)
class AnalysisResult:
    """Everything one analysis found, ready to serialise or render (nothing here refits)."""

    title: str
    question: str
    endpoint: str
    unit: str
    horizon: float | None
    n: int
    events: int
    flow: tuple[FlowStep, ...]
    km: KMResult
    models: ModelComparison
    variables: dict[str, Variable]
    marker: str
    covariates: tuple[str, ...]
    provenance: dict[str, Any]
    warnings: tuple[str, ...] = field(default=())
    group_tests: GroupTests | None = None
    followup: FollowUpResult | None = None
    ph_test: PHTestResult | None = None
    validation: ValidationSummary | None = None
    subgroups: SubgroupResult | None = None
    competing: CompetingRisksResult | None = None
    competing_unknown_cause: int = 0
    imputation: ImputationResult | None = None
    associations: AssociationsResult | None = None
    table1: TableOne | None = None
    misclassification: MisclassificationResult | None = None
    not_computed: tuple[NotComputed, ...] = ()
    """Optional sections asked for but not computable on this cohort (their result fields are None)."""

    def reason_not_computed(self, section: str) -> str | None:
        """Why ``section`` (e.g. ``"ph_test"``) was not computed; None if it was, or was not asked for."""
        return next((s.reason for s in self.not_computed if s.section == section), None)

    def to_dict(self) -> dict[str, Any]:
        """The results.json document (a contract: keys are only ever added)."""
        adjusted = self.models.adjusted.to_dict()

        def section(name: str, result: Any) -> dict[str, Any] | None:
            # null: not asked for; {"status": "not_computed", "reason": ...}: asked for, not computable.
            skipped = next((s for s in self.not_computed if s.section == name), None)
            return skipped.to_dict() if skipped is not None else _section(result)

        km = km_to_dict(self.km)
        if self.group_tests is not None:
            km.update(self.group_tests.to_dict())
        if self.reason_not_computed("group_tests") is not None:
            km["group_tests"] = section("group_tests", None)
        return {
            "title": self.title,
            "question": self.question,
            "endpoint": {"event": self.endpoint, "unit": self.unit, "horizon": self.horizon},
            "unit": self.unit,
            "n": self.n,
            "events": self.events,
            "flow": [step.to_dict() for step in self.flow],
            "marker": self.marker,
            "covariates": list(self.covariates),
            "variables": {name: _variable_dict(var) for name, var in self.variables.items()},
            "km": km,
            "followup": section("followup", self.followup),
            "cox": {
                "unadjusted": self.models.unadjusted.to_dict(),
                "adjusted": adjusted,
                "base": self.models.base.to_dict(),
            },
            "added_value": self.models.added_value.to_dict(),
            "events_per_variable": self.models.events_per_variable,
            "ph_test": section("ph_test", self.ph_test),
            "validation": section("validation", self.validation),
            "subgroups": section("subgroups", self.subgroups),
            "competing": section("competing", None) if self.competing is None else {
                **self.competing.to_dict(), "excluded_unknown_cause": self.competing_unknown_cause},
            "imputation": section("imputation", self.imputation),
            "associations": section("associations", self.associations),
            "table1": section("table1", self.table1),
            "misclassification": section("misclassification", self.misclassification),
            "sections_not_computed": [{"section": s.section, "reason": s.reason} for s in self.not_computed],
            "warnings": list(self.warnings),
            "provenance": self.provenance,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=_json_default, allow_nan=False)

    def to_frame(self) -> pd.DataFrame:
        """The hazard ratios of the three Cox models, one row per (model, term).

        Columns ``coef`` and ``se`` (log-hazard scale), ``hazard_ratio``, ``lower`` and ``upper``
        (ratio scale, the 95% interval) and ``p`` (two-sided Wald). The models are ``unadjusted``
        (the marker alone), ``adjusted`` (marker and covariates) and ``base`` (covariates only).
        """
        return self.models.to_frame()

    def flow_frame(self) -> pd.DataFrame:
        """The cohort flow: one row per step with n before, excluded, n after and the reason."""
        return pd.DataFrame([step.to_dict() for step in self.flow],
                            columns=["step", "n_before", "excluded", "n_after", "reason"])

    def km_frame(self) -> pd.DataFrame:
        """Kaplan–Meier survival at ``km.times`` (times in the endpoint's unit): one row per (group, time);
        see :meth:`prognosis.stats.km.KMResult.to_frame`."""
        return self.km.to_frame()

    def _repr_html_(self) -> str:
        # The report layer renders results (it imports this module), so it is imported here, on use.
        from prognosis.report.summary import summary_html

        return str(summary_html(self))


def _section(result: Any) -> dict[str, Any] | None:
    return None if result is None else result.to_dict()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def results_schema() -> dict[str, Any]:
    """The JSON Schema that every results.json validates against."""
    text = resources.files("prognosis").joinpath("schemas/results.schema.json").read_text(encoding="utf-8")
    return json.loads(text)
