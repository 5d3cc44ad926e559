"""The self-contained HTML report: one file, figures embedded, every user-supplied text escaped."""

from __future__ import annotations

import base64

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from prognosis.report.context_cohort import (
    associations_context,
    followup_sentence,
    group_tests_context,
    table1_context,
)
from prognosis.report.context_models import (
    competing_context,
    imputation_context,
    ph_context,
    subgroups_context,
    validation_context,
)
from prognosis.report.context_misclassification import misclassification_context
from prognosis.report.figures import risk_table_times
from prognosis.report.notes import limitations, methods_sentences
from prognosis.report.text import fmt_ci, fmt_p, fmt_percent_ci, summary_paragraphs, term_label
from prognosis.analysis.result import AnalysisResult
from prognosis.stats.cox import CoxResult

_ENV = Environment(
    loader=PackageLoader("prognosis", "report/templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def hazard_table(cox: CoxResult, result: AnalysisResult) -> Markup:
    """An HTML table of hazard ratios; the marker's rows are emphasised."""
    rows = []
    for term, hr, (low, up), p in zip(cox.terms, cox.hazard_ratio, cox.conf_int, cox.p_value):
        css = ' class="marker"' if term == result.marker or term.startswith(result.marker + "[") else ""
        rows.append(
            f"<tr{css}><td>{escape(term_label(term, result.variables))}</td><td><code>{escape(term)}</code></td>"
            f"<td class=\"num\">{hr:.2f}</td><td class=\"num\">{low:.2f} to {up:.2f}</td>"
            f"<td class=\"num\">{escape(fmt_p(p))}</td></tr>"
        )
    head = ("<thead><tr><th>Term</th><th>Name</th><th class=\"num\">Hazard ratio</th>"
            "<th class=\"num\">95% CI</th><th class=\"num\">p</th></tr></thead>")
    foot = (f"<caption class=\"muted\" style=\"caption-side: bottom; text-align: left\">{cox.n} patients, "
            f"{cox.n_events} events; Harrell's C = {cox.concordance:.3f}.</caption>")
    return Markup(f"<table>{head}<tbody>{''.join(rows)}</tbody>{foot}</table>")


def _km_rows(result: AnalysisResult) -> list[dict]:
    rows = []
    for level, curve in result.km.groups.items():
        cells = [fmt_percent_ci(s.estimate, s.lower, s.upper) for s in curve.at_times]
        median = curve.median
        rows.append({"level": level, "n": curve.n, "events": curve.events, "cells": cells,
                     "median": fmt_ci(median.estimate, median.lower, median.upper, digits=1)})
    return rows


def _risk_table(result: AnalysisResult) -> dict:
    times = risk_table_times(result.km, result.horizon)
    rows = [{"level": level, "counts": [int(n) for n in curve.n_at_risk_at(times)]}
            for level, curve in result.km.groups.items()]
    return {"times": [f"{t:g}" for t in times], "rows": rows}


#: Headings of the optional sections when they could not be computed (keyed as in results.json).
NOT_COMPUTED_TITLES = {
    "table1": "Patient characteristics (Table 1)", "associations": "Associations with clinical and molecular factors",
    "imputation": "Missing data: multiple imputation", "competing": "Competing risks",
    "subgroups": "Hazard ratio within subgroups", "validation": "Discrimination and validation of the adjusted model",
    "misclassification": "Misclassification of the marker",
    "ph_test": "Proportional-hazards check", "group_tests": "Further group tests", "followup": "Median follow-up",
}


def not_computed_reasons(result: AnalysisResult) -> dict[str, str]:
    """Section key -> why it was not computed, for the sections asked for but not computable."""
    return {s.section: s.reason.rstrip(". ") for s in result.not_computed}


def _toc(sections: dict[str, object], skipped: dict[str, str]) -> list[tuple[str, str]]:
    """Links to the sections present (computed, or shown with the reason they were not), in page order."""
    entries = [("finding", "Main finding", True), ("flow", "Patients", True),
               ("table1", "Table 1", sections["t1"] or "table1" in skipped),
               ("associations", "Associations", sections["assoc"] or "associations" in skipped),
               ("km", "Survival", True), ("cox", "Hazard ratios", True),
               ("imputation", "Multiple imputation", sections["mi"] or "imputation" in skipped),
               ("competing", "Competing risks", sections["cr"] or "competing" in skipped),
               ("subgroups", "Subgroups", sections["sg"] or "subgroups" in skipped),
               ("misclassification", "Misclassification", sections["mc"] or "misclassification" in skipped),
               ("validation", "Validation", sections["val"] or "validation" in skipped),
               ("ph", "Proportional hazards", sections["ph"] or "ph_test" in skipped),
               ("limitations", "Limitations", True), ("methods", "Methods", True)]
    return [(anchor, name) for anchor, name, present in entries if present]


def render_html(result: AnalysisResult, *, km_png: bytes, forest_png: bytes, description: str | None = None,
                figures: dict[str, bytes] | None = None) -> str:
    """Render the report to one HTML string (figures as base64 PNG).

    ``figures`` holds the PNGs of the optional sections, keyed ``cif``, ``calibration``,
    ``subgroups`` and ``ph``; a section without its figure shows its tables only.
    """
    sections = {
        "t1": table1_context(result), "assoc": associations_context(result), "gt": group_tests_context(result),
        "mi": imputation_context(result), "cr": competing_context(result), "sg": subgroups_context(result),
        "val": validation_context(result), "ph": ph_context(result), "mc": misclassification_context(result),
    }
    skipped = not_computed_reasons(result)
    encoded = {name: base64.b64encode(data).decode("ascii") for name, data in (figures or {}).items()}
    km_var = result.variables.get(result.km.by)
    covariates = [result.variables[c].label for c in result.covariates]
    template = _ENV.get_template("report.html.j2")
    return template.render(
        r=result,
        p=result.provenance,
        description=description,
        summary=summary_paragraphs(result),
        limits=limitations(result),
        km_label=km_var.label if km_var else result.km.by,
        km_rows=_km_rows(result),
        risk=_risk_table(result),
        conf_type=next(iter(result.km.groups.values())).conf_type,
        logrank_p=fmt_p(result.km.logrank.p),
        unadjusted_table=hazard_table(result.models.unadjusted, result),
        adjusted_table=hazard_table(result.models.adjusted, result),
        covariates_text=", ".join(covariates) if covariates else "nothing (no covariates given)",
        added=result.models.added_value,
        added_p=fmt_p(result.models.added_value.p),
        join_key=result.provenance.get("spec", {}).get("join", ""),
        km_png=base64.b64encode(km_png).decode("ascii"),
        forest_png=base64.b64encode(forest_png).decode("ascii"),
        figures=encoded,
        followup=followup_sentence(result),
        methods_more=methods_sentences(result),
        toc=_toc(sections, skipped),
        skipped=skipped,
        skipped_titles=NOT_COMPUTED_TITLES,
        **sections,
    )
