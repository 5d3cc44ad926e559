"""Template context for the descriptive sections: follow-up, Table 1, group tests, associations.

Each function returns plain strings and numbers for a template in ``templates/sections/``
(autoescaped there), or None when its result was not computed.
"""

from __future__ import annotations

import math
from typing import Any

from prognosis.report.text import fmt_ci, fmt_num, fmt_p, in_sentence
from prognosis.analysis.result import AnalysisResult


def p_number(p: float | None) -> str:
    """A p-value for a table cell: ``<0.001``, ``0.012``, ``0.45``; ``—`` when not available."""
    if p is None or not math.isfinite(p):
        return "—"
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


def ratio_ci(estimate: float | None, lower: float | None, upper: float | None) -> str:
    """``1.96 (1.38 to 2.78)``; ``—`` when not estimable."""
    if estimate is None or not math.isfinite(estimate):
        return "—"
    return fmt_ci(estimate, lower, upper)


def _label(result: AnalysisResult, name: str) -> str:
    var = result.variables.get(name)
    return var.label if var is not None else name


def followup_sentence(result: AnalysisResult) -> str | None:
    """Median follow-up by the reverse Kaplan–Meier method, with its CI."""
    fu = result.followup
    reason = result.reason_not_computed("followup")
    if reason is not None:
        return f"Median follow-up was not computed on this cohort: {reason.rstrip('. ')}."
    if fu is None:
        return None
    if fu.note is not None:
        return f"Median follow-up is not reported: {fu.note}."
    if fu.median is None or not math.isfinite(fu.median):
        return (f"Median follow-up was not reached by the reverse Kaplan–Meier method "
                f"({fu.n_censored} of {fu.n} patients censored).")
    return (f"Median follow-up was {fu.median:.1f} {result.unit} "
            f"(95% CI {fmt_num(fu.lower, 1)} to {fmt_num(fu.upper, 1)}), by the reverse Kaplan–Meier method "
            "(censoring treated as the event, so deaths do not shorten it).")


def table1_context(result: AnalysisResult) -> dict[str, Any] | None:
    """Table 1 by marker level: one row per level or summary, missing and SMD on a variable's first row."""
    t1 = result.table1
    if t1 is None:
        return None
    rows, seen = [], set()
    for row in t1.rows:
        first = row.variable not in seen
        seen.add(row.variable)
        detail = row.level if row.level is not None else row.statistic
        rows.append({
            "variable": row.label if first else "",
            "detail": detail,
            "statistic": row.statistic if first else "",
            "cells": [row.cells.get("overall", "—")] + [row.cells.get(g, "—") for g in t1.groups],
            "missing": (f"{row.missing} (" + ", ".join(f"{row.missing_by_group.get(g, 0)}" for g in t1.groups) + ")"
                        if first and row.missing else ("0" if first else "")),
            "smd": fmt_num(row.smd) if first and row.smd is not None else ("—" if first else ""),
            "imbalanced": first and row.smd is not None and abs(row.smd) > 0.1,
            "first": first,
        })
    overall = t1.n.get("overall", sum(t1.n.get(g, 0) for g in t1.groups))
    return {
        "by": _label(result, t1.by),
        "by_name": t1.by,
        "groups": [{"level": g, "n": t1.n.get(g, 0)} for g in t1.groups],
        "overall": overall,
        "rows": rows,
        "by_missing": t1.by_missing,
        "differs": overall != result.n,
    }


def group_tests_context(result: AnalysisResult) -> dict[str, Any] | None:
    """Stratified log-rank (with O/E per stratum), pairwise Holm-adjusted and trend tests."""
    gt = result.group_tests
    if gt is None or (gt.stratified is None and gt.pairwise is None and gt.trend is None):
        return None
    out: dict[str, Any] = {"stratified": None, "pairwise": None, "trend": None}
    if gt.stratified is not None:
        s = gt.stratified
        names = list(gt.strata_by)
        by_text = ", ".join(_label(result, n) for n in names) if names else "the strata"
        out["stratified"] = {
            "by": by_text,
            "text": f"χ² = {s.statistic:.2f} on {s.df} df, {fmt_p(s.p)}",
            "groups": list(s.groups),
            "strata": [{"stratum": c.stratum, "n": c.n,
                        "cells": [f"{c.observed.get(g, 0):.0f} / {c.expected.get(g, 0):.1f}" for g in s.groups]}
                       for c in s.strata],
        }
    if gt.pairwise is not None:
        out["pairwise"] = {
            "method": gt.pairwise.method.capitalize(),
            "rows": [{"pair": f"{a} vs {b}", "statistic": f"{c.statistic:.2f}", "p": p_number(c.p),
                      "p_adjusted": p_number(c.p_adjusted)} for c in gt.pairwise.comparisons for a, b in [c.groups]],
        }
    if gt.trend is not None:
        tr = gt.trend
        scores = ", ".join(f"{k} = {v:g}" for k, v in tr.scores.items())
        out["trend"] = f"χ² = {tr.statistic:.2f} on {tr.df} df, {fmt_p(tr.p)} (scores {scores})"
    return out


def associations_context(result: AnalysisResult) -> dict[str, Any] | None:
    """One row per factor level: n with the marker / n, OR and adjusted OR vs the reference level,
    and the factor's chi-squared and Fisher p-values on its first row."""
    assoc = result.associations
    if assoc is None:
        return None
    adjusted_for: tuple[str, ...] = ()
    rows = []
    for name, fa in assoc.factors.items():
        adjusted_for = adjusted_for or fa.adjusted_for
        p_text = f"{p_number(fa.chi2.p if fa.chi2 else None)} / {p_number(fa.fisher_p)}"
        if fa.table is None:  # numeric factor: one odds ratio per unit
            term, odds = next(iter(fa.odds_ratios.items()), (name, None))
            adjusted = (fa.adjusted_odds_ratios or {}).get(term)
            rows.append({"factor": fa.label, "level": "per unit", "count": f"n = {fa.n}",
                         "odds": _or_text(odds), "adjusted": _or_text(adjusted, fa.adjusted_odds_ratios is None),
                         "p": p_text, "first": True, "span": 1})
            continue
        levels = list(next(iter(fa.table.values())).keys())
        with_marker = fa.table.get(assoc.marker_level, {})
        span = len(levels)
        for i, level in enumerate(levels):
            total = sum(counts.get(level, 0) for counts in fa.table.values())
            term = f"{name}[{level}]"
            is_reference = term not in fa.odds_ratios
            rows.append({
                "factor": fa.label, "level": level,
                "count": f"{with_marker.get(level, 0)} / {total}"
                         + (f" ({100 * with_marker.get(level, 0) / total:.0f}%)" if total else ""),
                "odds": "1 (reference)" if is_reference else _or_text(fa.odds_ratios.get(term)),
                "adjusted": ("1 (reference)" if is_reference and fa.adjusted_odds_ratios is not None else
                             _or_text((fa.adjusted_odds_ratios or {}).get(term), fa.adjusted_odds_ratios is None)),
                "p": p_text, "first": i == 0, "span": span,
            })
    # The result names what was adjusted for; older results carried it per factor only.
    adjust_names = assoc.adjust_for or adjusted_for
    adjust_words = ", ".join(in_sentence(_label(result, a)) for a in adjust_names)
    return {"marker": assoc.marker, "marker_level": assoc.marker_level, "reference": assoc.reference,
            "rows": rows, "adjusted_for": adjust_words or None, "adjustment": assoc.adjustment or None}


def _or_text(odds: Any, not_asked: bool = False) -> str:
    if not_asked:
        return "—"
    if odds is None:
        return "not estimable"
    return ratio_ci(odds.odds_ratio, odds.lower, odds.upper)
