"""The report's limitations and the methods sentences of the sections that ran."""

from __future__ import annotations

import math

import numpy as np

from prognosis.report.text import _join_words, fmt_ci, fmt_p, in_sentence, term_label
from prognosis.analysis.result import AnalysisResult

PH_ALPHA = 0.05
NOT_ASSESSED = ("The proportional-hazards assumption, competing causes of death and optimism of the "
                "C-index are not assessed in this report.")


def _marker_index(terms: tuple[str, ...], marker: str) -> int | None:
    for i, term in enumerate(terms):
        if term == marker or term.startswith(marker + "["):
            return i
    return None


def _label(result: AnalysisResult, name: str) -> str:
    var = result.variables.get(name)
    return var.label if var is not None else name


def limitations(result: AnalysisResult) -> list[str]:
    """What a reader must weigh: events per variable, missing data, design, and what the checks found."""
    items = []
    epv = result.models.events_per_variable
    n_terms = len(result.models.adjusted.terms)
    epv_text = (f"{result.events} events for {n_terms} estimated terms in the adjusted model: "
                f"{epv:.1f} events per variable")
    items.append(epv_text + (" (below the usual minimum of 10; estimates may be unstable)." if epv < 10 else
                             " (at least 10, the usual minimum)."))
    items.append(_missing_item(result))
    absent = [s for s in result.flow if s.excluded and s.step.startswith("present in")]
    if absent:
        items.append("Patients absent from a table were excluded: " +
                     "; ".join(f"{s.step}: {s.excluded}" for s in absent) + ".")
    items.extend(_checks(result))
    items.extend(_not_computed(result))
    if result.subgroups is not None:
        tests = [f.interaction_p_adjusted if f.interaction_p_adjusted is not None else f.interaction_p
                 for f in result.subgroups.factors]
        small = sum(1 for p in tests if p is not None and math.isfinite(p) and p < 0.05)
        items.append(f"Subgroup analyses are exploratory: {len(tests)} interaction test{'s' if len(tests) != 1 else ''}, "
                     f"{small} with p < 0.05; with several tests one such result can arise by chance.")
    mc = result.misclassification
    if mc is not None and mc.draws_discarded > mc.draws_used:
        items.append(f"In the misclassification analysis {mc.draws_discarded} of {mc.draws} draws of sensitivity and "
                     "specificity were impossible for the share of patients called positive in some group of patients "
                     "(too many false positives for the positives observed); the corrected hazard ratios rest on "
                     "the draws with the higher specificities.")
    items.extend(result.warnings)
    return items


#: How the limitations name a section that could not be computed.
_SECTION_NAMES = {
    "group_tests": "The further group tests (stratified, weighted, pairwise, trend)", "followup": "Median follow-up",
    "ph_test": "The proportional-hazards check", "validation": "Validation", "subgroups": "The subgroup analysis",
    "competing": "The competing-risks analysis", "imputation": "Multiple imputation",
    "associations": "The associations", "table1": "Table 1",
    "misclassification": "The misclassification analysis of the marker",
}


def _not_computed(result: AnalysisResult) -> list[str]:
    """One item per optional section asked for but not computable on this cohort, with its reason."""
    return [f"{_SECTION_NAMES.get(s.section, s.section)} could not be computed on this cohort: "
            f"{s.reason.rstrip('. ')}." for s in result.not_computed]


def _missing_item(result: AnalysisResult) -> str:
    missing = [s for s in result.flow if s.excluded and "missing" in s.reason]
    mi = result.imputation
    if not missing:
        return "No patient was excluded for a missing value."
    total = sum(s.excluded for s in missing)
    detail = "; ".join(f"{s.reason.split(' (')[0]}: {s.excluded}" for s in missing)
    n_read = result.flow[0].n_before if result.flow else result.n
    share = f"{total} of {n_read} patients ({100 * total / max(n_read, 1):.1f}%)"
    if mi is None:
        return (f"Complete-case analysis: {share} were excluded for a missing value ({detail}).") + (" If values are not missing completely at random, this can bias the estimates; multiple "
                       "imputation is the usual check.")
    i = _marker_index(mi.terms, result.marker)
    j = _marker_index(result.models.adjusted.terms, result.marker)
    compare = ""
    if i is not None and j is not None:
        cc = result.models.adjusted
        compare = (f" The marker's hazard ratio was {fmt_ci(mi.hazard_ratio[i], *mi.conf_int[i])} with imputation "
                   f"and {fmt_ci(cc.hazard_ratio[j], *cc.conf_int[j])} in complete cases.")
    return (f"Missing data: {share} had a missing value ({detail}). The primary analysis multiply imputed them "
            f"(m = {mi.m}), which assumes they are missing at random given the variables in the imputation model; "
            "the complete-case analysis, which leaves them out, is the sensitivity analysis." + compare)


def _checks(result: AnalysisResult) -> list[str]:
    """Findings of the PH, competing-risks and validation sections; what was not assessed, said once."""
    items, not_assessed = [], []
    ph = result.ph_test
    if ph is not None:
        flagged = [n for n, t in ph.terms.items() if np.isfinite(t.p) and t.p < PH_ALPHA]
        if flagged:
            names = ", ".join(f"{_label(result, n)} ({fmt_p(ph.terms[n].p)})" for n in flagged)
            items.append(f"Proportional hazards may not hold for {names}: the hazard ratio of "
                         f"{'that variable' if len(flagged) == 1 else 'those variables'} changes over follow-up, "
                         "and the reported hazard ratio is an average over it.")
        else:
            smallest = min(ph.terms.items(), key=lambda kv: kv[1].p) if ph.terms else None
            low = f" (smallest p = {ph.terms[smallest[0]].p:.2f}, {_label(result, smallest[0])})" if smallest else ""
            items.append(f"Proportional hazards: all per-variable test p-values are above {PH_ALPHA:g}{low}; global "
                         f"{fmt_p(ph.global_test.p)}.")
    elif result.reason_not_computed("ph_test") is None:  # else _not_computed says why
        not_assessed.append("the proportional-hazards assumption")
    cr = result.competing
    if cr is not None:
        text = "Competing causes of death were analysed"
        if cr.fine_gray is not None and cr.cause_specific is not None:
            i = _marker_index(cr.fine_gray.terms, result.marker)
            j = _marker_index(cr.cause_specific.terms, result.marker)
            if i is not None and j is not None:
                fg, cs = cr.fine_gray, cr.cause_specific
                text += (f": the Fine–Gray subdistribution hazard ratio of {term_label(fg.terms[i], result.variables)} "
                         f"was {fmt_ci(fg.hazard_ratio[i], *fg.conf_int[i])}, the cause-specific hazard ratio "
                         f"{fmt_ci(cs.hazard_ratio[j], *cs.conf_int[j])}")
        unknown = result.competing_unknown_cause
        text += (f"; {unknown} patient{'s' if unknown != 1 else ''} with an unknown cause of death "
                 f"{'were' if unknown != 1 else 'was'} left out of that analysis." if unknown else ".")
        items.append(text)
    elif result.reason_not_computed("competing") is None:  # else _not_computed says why
        not_assessed.append("competing causes of death")
    v = result.validation
    if v is not None and v.bootstrap.B == 0:
        items.append(f"Optimism of the C-index was not estimated (validation.bootstrap: 0); the apparent Harrell's "
                     f"C is {v.bootstrap.c_apparent:.3f}, from the same patients, so it is optimistic.")
    elif v is not None:
        b = v.bootstrap
        items.append(f"Optimism of the C-index (bootstrap, B = {b.B}): {b.c_optimism:.3f}, so the optimism-corrected "
                     f"Harrell's C is {b.c_corrected:.3f} (apparent {b.c_apparent:.3f}); the estimates come from "
                     "the same patients, so external validation is still needed.")
    elif result.reason_not_computed("validation") is None:  # else _not_computed says why
        not_assessed.append("optimism of the C-index")
    if len(not_assessed) == 3:
        items.append(NOT_ASSESSED)
    elif not_assessed:
        words = not_assessed[0] if len(not_assessed) == 1 else " and ".join(not_assessed)
        items.append(f"{words[0].upper() + words[1:]} {'is' if len(not_assessed) == 1 else 'are'} not assessed "
                     "in this report.")
    return items


def methods_sentences(result: AnalysisResult) -> list[str]:
    """One sentence per optional section that ran, in the order of the report."""
    out = []
    if result.followup is not None:
        out.append("Median follow-up was estimated by the reverse Kaplan–Meier method (censoring as the event).")
    if result.table1 is not None:
        out.append("Table 1 gives counts with percentages of patients with a known value, medians with "
                   "interquartile ranges, and standardised differences between marker groups.")
    if result.associations is not None:
        names = result.associations.adjust_for or next(
            (f.adjusted_for for f in result.associations.factors.values() if f.adjusted_for), ())
        words = _join_words([in_sentence(_label(result, n)) for n in names]) if names else ""
        out.append("Associations of the marker with clinical and molecular factors were tested with Pearson's χ² "
                   "and Fisher's exact tests, with odds ratios from logistic regression (as R glm)"
                   + (f", unadjusted and adjusted for {words}." if names else ", unadjusted only (no adjustment "
                      "variable was named or found)."))
    gt = result.group_tests
    if gt is not None:
        if gt.stratified is not None:
            out.append("The log-rank test was repeated stratified by key confounders (as R survdiff with strata).")
        if gt.pairwise is not None:
            out.append(f"Groups were compared pairwise by log-rank tests with {gt.pairwise.method.capitalize()} "
                       "adjustment for multiple comparisons.")
        if gt.trend is not None:
            out.append("A log-rank test for trend was applied across the ordered groups.")
    if result.imputation is not None:
        mi = result.imputation
        out.append(f"Missing values were handled by multiple imputation by chained equations (m = {mi.m}"
                   f"{'' if mi.seed is None else f', seed {mi.seed}'}) including the event indicator and the "
                   "Nelson–Aalen cumulative hazard; the Cox estimates were pooled by Rubin's rules (Barnard–Rubin "
                   "degrees of freedom), with D1 and D3 pooled tests for the marker (as R mice); the complete-case "
                   "analysis is the sensitivity analysis.")
    if result.competing is not None:
        out.append("Competing risks: cumulative incidence by the Aalen–Johansen estimator with Gray's test (as "
                   "cmprsk::cuminc), cause-specific Cox models, and Fine–Gray subdistribution hazard models (as "
                   "cmprsk::crr); patients with an unknown cause of death were left out.")
    if result.subgroups is not None:
        out.append("Within each subgroup the marker's hazard ratio was estimated unadjusted and adjusted for the "
                   "other covariates; heterogeneity was tested by the likelihood-ratio test of the marker × factor "
                   "interaction.")
    if result.misclassification is not None:
        mc = result.misclassification
        out.append("Misclassification of the marker was addressed by record-level probabilistic bias analysis (Fox, Lash "
                   f"and Greenland 2005): {mc.draws} draws of sensitivity and specificity (seed {mc.seed}), the true marker "
                   "imputed from the predictive values computed among patients with and without the event, each in "
                   f"{mc.time_groups} group{'s' if mc.time_groups != 1 else ''} of follow-up time, the adjusted model "
                   "refitted per draw, and the conventional random error added; draws implying impossible corrected "
                   f"counts were discarded ({mc.draws_discarded}).")
    if result.validation is not None:
        v = result.validation
        boot = ("optimism was not estimated (validation.bootstrap: 0)" if v.bootstrap.B == 0 else
                "optimism of the C-index and calibration slope was estimated by bootstrap "
                f"(B = {v.bootstrap.B}{'' if v.bootstrap.seed is None else f', seed {v.bootstrap.seed}'}; as "
                "rms::validate)")
        out.append("Discrimination was measured by Harrell's and Uno's C, time-dependent (cumulative/dynamic) AUC "
                   f"and Brier scores; {boot}, and calibration compared mean predicted with Kaplan–Meier observed survival "
                   f"at {v.calibration.time:g} {result.unit} in {len(v.calibration.groups)} groups of predicted risk.")
    if result.ph_test is not None:
        out.append("Proportional hazards were checked with scaled Schoenfeld residuals (as R cox.zph, "
                   f"{result.ph_test.transform} transform), per variable and globally.")
    return out
