"""Numbers into words a clinician can read: formatting and the plain-language summary."""

from __future__ import annotations

import math

from prognosis.cohort.variable import Variable
from prognosis.analysis.result import AnalysisResult


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


def in_sentence(label: str) -> str:
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
    covariate_words = [in_sentence(result.variables[c].label) for c in result.covariates]
    mi = result.imputation
    paragraphs = []
    for i, term in enumerate(adjusted.terms):
        if term not in result.models.unadjusted.terms:
            continue
        hr, (low, up), p = adjusted.hazard_ratio[i], adjusted.conf_int[i], adjusted.p_value[i]
        complete_case = (hr, low, up, p)
        primary = ""
        if mi is not None and term in mi.terms:
            # With multiple imputation the pooled estimate is the main result (it uses every
            # eligible patient); the complete-case estimate becomes the sensitivity analysis.
            k = mi.terms.index(term)
            hr, (low, up), p = mi.hazard_ratio[k], mi.conf_int[k], mi.pooled.p_value[k]
            primary = (f"In the primary analysis, with missing values multiply imputed (m = {mi.m}, "
                       f"{mi.n} patients), ")
        level = term[len(marker.name) + 1:-1] if term.endswith("]") else None
        who = (f"patients with {marker.name} = {level}" if level is not None
               else f"each additional {marker.spec.unit or 'unit'} of {marker.name}")
        than = f"those with {marker.name} = {marker.reference}" if level is not None else "one unit less"
        adjust = f"After adjustment for {_join_words(covariate_words)}, " if covariate_words else ""
        if primary:
            adjust = primary + (adjust[0].lower() + adjust[1:] if adjust else "")
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
        if primary:
            cc_hr, cc_low, cc_up, cc_p = complete_case
            meaning += (f" The complete-case analysis ({adjusted.n} patients with every value recorded), the "
                        f"sensitivity analysis, gave a hazard ratio of {cc_hr:.2f} (95% confidence interval "
                        f"{cc_low:.2f} to {cc_up:.2f}; {fmt_p(cc_p)}).")
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

