"""Template context for the misclassification section: how far the marker's hazard ratio could move."""

from __future__ import annotations

from typing import Any

from prognosis.analysis.result import AnalysisResult
from prognosis.report.context_cohort import ratio_ci
from prognosis.report.text import fmt_num, term_label
from prognosis.stats.misclassification import Distribution


def describe_distribution(distribution: Distribution) -> str:
    """``Beta(25, 4), mean 0.86``, ``0.90 (fixed)``, ``trapezoid 0.80/0.85/0.95/1.00``, or the counts."""
    p = distribution.parameters
    if distribution.kind == "fixed":
        return f"{p[0]:.2f} (fixed)"
    if distribution.kind == "trapezoid":
        corners = "–".join(f"{v:.2f}" for v in (p[0], p[3]))
        return f"trapezoidal, {corners}, flat from {p[1]:.2f} to {p[2]:.2f} (mean {distribution.centre:.2f})"
    text = f"Beta({p[0]:g}, {p[1]:g}), mean {distribution.centre:.2f}"
    if distribution.counts:
        counts = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in distribution.counts.items())
        text += f" (from validation counts: {counts})"
    return text


def misclassification_context(result: AnalysisResult) -> dict[str, Any] | None:
    """The plain sentence, the three hazard ratios (conventional, corrected, corrected with random error) and the draws."""
    mc = result.misclassification
    if mc is None:
        return None
    marker = result.variables.get(result.marker)
    name = marker.label if marker is not None else result.marker
    low, high = mc.interval_total
    sentence = (f"If the images call {name} with sensitivity about {mc.sensitivity.centre:.2f} and specificity about "
                f"{mc.specificity.centre:.2f}, the adjusted hazard ratio could be between {fmt_num(low, 2)} and "
                f"{fmt_num(high, 2)} (median {fmt_num(mc.median_total, 2)}), against {fmt_num(mc.conventional_hazard_ratio, 2)} "
                "when every call is taken as right.")
    rows = [
        ("Conventional (calls taken as right), 95% CI", ratio_ci(mc.conventional_hazard_ratio, *mc.conventional_interval)),
        ("Corrected, systematic error only: median (2.5th–97.5th percentile)",
         ratio_ci(mc.median_systematic, *mc.interval_systematic)),
        ("Corrected, systematic and random error: median (2.5th–97.5th percentile)",
         ratio_ci(mc.median_total, *mc.interval_total)),
    ]
    return {
        "sentence": sentence, "rows": rows, "term": term_label(mc.term, result.variables),
        "sensitivity": describe_distribution(mc.sensitivity), "specificity": describe_distribution(mc.specificity),
        "draws": mc.draws, "used": mc.draws_used, "discarded": mc.draws_discarded, "not_fitted": mc.draws_not_fitted,
        "seed": mc.seed, "time_groups": mc.time_groups,
    }
