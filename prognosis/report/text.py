"""Numbers into words a clinician can read: formatting and the plain-language summary."""

from __future__ import annotations

import math

from prognosis.cohort.assemble import Variable
from prognosis.results import AnalysisResult


def fmt_p(p: float) -> str:
    if p is None or not math.isfinite(p):
        return "p not available"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


def fmt_num(x: float | None, digits: int = 2) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    return f"{x:.{digits}f}"


def fmt_ci(estimate: float | None, lower: float | None, upper: float | None, digits: int = 2) -> str:
    if estimate is None or not math.isfinite(estimate):
        return "not reached"
    bounds = f"{fmt_num(lower, digits)} to {fmt_num(upper, digits)}"
    return f"{estimate:.{digits}f} ({bounds})"


def fmt_percent_ci(estimate: float | None, lower: float | None, upper: float | None) -> str:
    if estimate is None or not math.isfinite(estimate):
        return "—"
    low = "—" if lower is None or not math.isfinite(lower) else f"{100 * lower:.1f}"
    up = "—" if upper is None or not math.isfinite(upper) else f"{100 * upper:.1f}"
    return f"{100 * estimate:.1f}% ({low} to {up})"


def term_label(term: str, variables: dict[str, Variable]) -> str:
    """``grade[3]`` -> ``Histological grade: 3 vs 1``; ``age`` -> ``Age at diagnosis (per years)``."""
    if "[" in term and term.endswith("]"):
        name, level = term[:-1].split("[", 1)
        var = variables.get(name)
        if var is None:
            return term
        return f"{var.label}: {level} vs {var.reference}"
    var = variables.get(term)
    if var is None:
        return term
    return f"{var.label} (per {var.spec.unit})" if var.spec.unit else f"{var.label} (per unit)"


def _in_sentence(label: str) -> str:
    """Lower-case a label's first letter for use mid-sentence, unless it starts an acronym (HER2)."""
    if len(label) > 1 and label[0].isupper() and label[1].islower():
        return label[0].lower() + label[1:]
    return label


def _join_words(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def summary_paragraphs(result: AnalysisResult) -> list[str]:
    """The plain-language findings: the adjusted HR with its CI, what it means, and its caveats."""
    marker = result.variables[result.marker]
    adjusted = result.models.adjusted
    covariate_words = [_in_sentence(result.variables[c].label) for c in result.covariates]
    paragraphs = []
    for i, term in enumerate(adjusted.terms):
        if term not in result.models.unadjusted.terms:
            continue
        hr, (low, up), p = adjusted.hazard_ratio[i], adjusted.conf_int[i], adjusted.p_value[i]
        level = term[len(marker.name) + 1:-1] if term.endswith("]") else None
        who = (f"patients with {marker.name} = {level}" if level is not None
               else f"each additional {marker.spec.unit or 'unit'} of {marker.name}")
        than = f"those with {marker.name} = {marker.reference}" if level is not None else "one unit less"
        adjust = f"After adjustment for {_join_words(covariate_words)}, " if covariate_words else ""
        direction = "higher" if hr > 1 else "lower"
        sentence = (
            f"{adjust}{who} had a hazard of the event ({result.endpoint}) "
            f"{hr:.2f} times that of {than} (95% confidence interval {low:.2f} to {up:.2f}; {fmt_p(p)})."
        )
        if low > 1 or up < 1:
            meaning = (f"The interval excludes 1: in this cohort the data support a {direction} risk that is "
                       f"not explained by the factors adjusted for, i.e. {marker.name} behaves as an independent "
                       "prognostic marker here.")
        else:
            meaning = ("The interval includes 1: these data are compatible with no independent effect once "
                       "the other factors are taken into account.")
        paragraphs.append(f"{sentence} {meaning}")
    added = result.models.added_value
    paragraphs.append(
        f"Adding {marker.name} to a model with the other factors changed the fit by a likelihood-ratio "
        f"χ² of {added.lrt_statistic:.2f} on {added.df} df ({fmt_p(added.p)}); Harrell's C went from "
        f"{added.c_base:.3f} to {added.c_full:.3f} (0.5 = no discrimination, 1 = perfect)."
    )
    paragraphs.append(
        "A hazard ratio compares the instantaneous risk of the event between groups; it is a relative "
        "measure, not a probability, and an association in an observational cohort does not by itself show cause."
    )
    return paragraphs


def limitations(result: AnalysisResult) -> list[str]:
    """What a reader must weigh: events per variable, missing data, design, untested assumptions."""
    items = []
    epv = result.models.events_per_variable
    n_terms = len(result.models.adjusted.terms)
    epv_text = (f"{result.events} events for {n_terms} estimated terms in the adjusted model: "
                f"{epv:.1f} events per variable")
    items.append(epv_text + (" (below the usual minimum of 10; estimates may be unstable)." if epv < 10 else
                             " (at least 10, the usual minimum)."))
    missing = [s for s in result.flow if s.excluded and "missing" in s.reason]
    if missing:
        total = sum(s.excluded for s in missing)
        detail = "; ".join(f"{s.reason.split(' (')[0]}: {s.excluded}" for s in missing)
        n_read = result.flow[0].n_before if result.flow else result.n
        items.append(f"Complete-case analysis: {total} of {n_read} patients ({100 * total / max(n_read, 1):.1f}%) "
                     f"were excluded for a missing value ({detail}). If values are not missing completely at "
                     "random, this can bias the estimates; multiple imputation is the usual check.")
    else:
        items.append("No patient was excluded for a missing value.")
    absent = [s for s in result.flow if s.excluded and s.step.startswith("present in")]
    if absent:
        items.append("Patients absent from a table were excluded: " +
                     "; ".join(f"{s.step}: {s.excluded}" for s in absent) + ".")
    items.append("The proportional-hazards assumption, competing causes of death and optimism of the "
                 "C-index are not assessed in this report.")
    items.extend(result.warnings)
    return items
