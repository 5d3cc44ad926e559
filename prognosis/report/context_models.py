"""Template context for the model sections: imputation, competing risks, subgroups, validation, PH.

Each function returns plain strings for a template in ``templates/sections/`` (autoescaped
there), or None when its result was not computed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from prognosis.report.context_cohort import p_number, ratio_ci
from prognosis.report.figures_sections import cause_label
from prognosis.report.text import fmt_num, fmt_p, fmt_percent_ci, term_label
from prognosis.analysis.result import AnalysisResult

PH_ALPHA = 0.05


def _is_marker(result: AnalysisResult, term: str) -> bool:
    return term == result.marker or term.startswith(result.marker + "[")


def imputation_context(result: AnalysisResult) -> dict[str, Any] | None:
    """Pooled (Rubin's rules) HRs beside the complete-case adjusted HRs, and the D1/D3 tests."""
    mi = result.imputation
    if mi is None:
        return None
    cc = result.models.adjusted
    rows = [{**row, "fmi": fmt_num(fmi)} for row, fmi in zip(
        _side_by_side(result, (mi.terms, mi.hazard_ratio, mi.conf_int, mi.pooled.p_value), "mi", cc, "cc"),
        mi.pooled.fmi)]
    missing = [f"{_var_label(result, name)}: {count}" for name, count in mi.missing.items() if count]
    tests = [{"name": name, "text": f"F = {t.statistic:.2f} on ({t.df1}, {fmt_num(t.df2, 1)}) df, {fmt_p(t.p)}"}
             for name, t in (("D1 (pooled Wald)", mi.d1), ("D3 (pooled likelihood ratio)", mi.d3))]
    return {"m": mi.m, "seed": "not recorded" if mi.seed is None else str(mi.seed), "n": mi.n, "n_cc": cc.n,
            "rows": rows, "missing": "; ".join(missing) or "none", "tests": tests}


def _side_by_side(result: AnalysisResult, main: tuple, main_key: str, other, other_key: str) -> list[dict[str, Any]]:
    """One row per term of ``main`` (terms, hazard ratios, intervals, p-values): its HR and p under
    ``main_key``, and ``other``'s for the same term under ``other_key`` ("—" where it has none)."""
    terms, hazard_ratio, conf_int, p_value = main
    rows = []
    for i, term in enumerate(terms):
        j = other.terms.index(term) if term in other.terms else None
        rows.append({
            "label": term_label(term, result.variables), "marker": _is_marker(result, term),
            other_key: "—" if j is None else ratio_ci(other.hazard_ratio[j], *other.conf_int[j]),
            f"{other_key}_p": "—" if j is None else p_number(other.p_value[j]),
            main_key: ratio_ci(hazard_ratio[i], *conf_int[i]), f"{main_key}_p": p_number(p_value[i]),
        })
    return rows


def _var_label(result: AnalysisResult, name: str) -> str:
    var = result.variables.get(name)
    return var.label if var is not None else name


def competing_context(result: AnalysisResult) -> dict[str, Any] | None:
    """CIF at the KM times, Gray's test, cause-specific and Fine–Gray HRs side by side."""
    cr = result.competing
    if cr is None:
        return None
    cause = cause_label(cr.cause_of_interest)
    others = [cause_label(c) for c in cr.competing_causes]
    cif_rows = []
    for group in cr.groups:
        curves = [(cause, cr.cif[group], True)] + [(cause_label(c), cr.competing_cif[c][group], False)
                                                   for c in cr.competing_causes]
        for name, curve, main in curves:
            by_time = {a.time: a for a in curve.at_times}
            cells = [fmt_percent_ci(by_time[t].estimate, by_time[t].lower, by_time[t].upper) if t in by_time else "—"
                     for t in cr.times]
            cif_rows.append({"group": group, "cause": name, "events": curve.events, "cells": cells, "main": main})
    gray = None
    if cr.gray_test is not None:
        g = cr.gray_test
        gray = f"χ² = {g.statistic:.2f} on {g.df} df, {fmt_p(g.p)}"
    models = None
    cs, fg = cr.cause_specific, cr.fine_gray
    if cs is not None and fg is not None:
        rows = _side_by_side(result, (fg.terms, fg.hazard_ratio, fg.conf_int, fg.p_value), "fg", cs, "cs")
        models = {"rows": rows, "n": fg.n, "events": fg.n_events, "competing": fg.n_competing}
    return {"cause": cause, "others": ", ".join(others) or "none", "times": [f"{t:g}" for t in cr.times],
            "rows": cif_rows, "gray": gray, "models": models, "unknown": result.competing_unknown_cause}


def subgroups_context(result: AnalysisResult) -> dict[str, Any] | None:
    """Per factor and level: n, events, unadjusted and adjusted HR of the marker; interaction p-values."""
    sg = result.subgroups
    if sg is None:
        return None
    rows = []
    any_adjusted = False
    for factor in sg.factors:
        for i, level in enumerate(factor.levels):
            any_adjusted = any_adjusted or level.adjusted is not None
            u, a = level.unadjusted, level.adjusted
            rows.append({
                "factor": _var_label(result, factor.factor), "first": i == 0, "span": len(factor.levels),
                "level": level.level, "n": level.n, "events": level.events,
                "unadjusted": ratio_ci(u.hazard_ratio, u.lower, u.upper),
                "adjusted": "—" if a is None else ratio_ci(a.hazard_ratio, a.lower, a.upper),
                "interaction": p_number(factor.interaction_p),
                "interaction_adjusted": p_number(factor.interaction_p_adjusted),
            })
    return {"term": term_label(sg.term, result.variables), "rows": rows, "adjusted": any_adjusted,
            "covariates": ", ".join(_var_label(result, c) for c in sg.covariates)}


def validation_context(result: AnalysisResult) -> dict[str, Any] | None:
    """Apparent discrimination, Brier scores, bootstrap optimism correction, calibration and EPV."""
    v = result.validation
    if v is None:
        return None
    d, boot, cal = v.discrimination, v.bootstrap, v.calibration
    unit = result.unit
    rows = [("Harrell's C (apparent)", fmt_num(d.harrell_c, 3)),
            (f"Uno's C (truncated at {d.tau:g} {unit})", fmt_num(d.uno_c, 3))]
    for t, auc, brier in zip(d.times, d.auc, d.brier):
        rows.append((f"Time-dependent AUC at {t:g} {unit}", fmt_num(auc, 3)))
        rows.append((f"Brier score at {t:g} {unit} (0 = perfect; lower is better)", fmt_num(brier, 3)))
    if d.integrated_brier is not None and math.isfinite(d.integrated_brier):
        rows.append((f"Integrated Brier score ({d.times[0]:g} to {d.times[-1]:g} {unit})",
                     fmt_num(d.integrated_brier, 3)))
    slope = boot.indexes.get("Slope")
    n_ok = boot.indexes["Dxy"].n if "Dxy" in boot.indexes else boot.B
    boot_rows = [("Harrell's C", fmt_num(boot.c_apparent, 3), fmt_num(boot.c_optimism, 3), fmt_num(boot.c_corrected, 3))]
    if slope is not None:
        boot_rows.append(("Calibration slope", fmt_num(slope.apparent, 3), fmt_num(slope.optimism, 3),
                          fmt_num(slope.corrected, 3)))
    epv = v.events_per_variable
    return {
        "rows": rows, "boot_rows": boot_rows, "B": boot.B, "n_ok": n_ok,
        "seed": "not recorded" if boot.seed is None else str(boot.seed),
        "calibration_time": f"{cal.time:g}", "n_groups": len(cal.groups),
        "calibration_slope": fmt_num(cal.slope, 2),
        "calibration_rows": [{"group": i + 1, "n": g.n, "predicted": f"{100 * g.predicted:.1f}%",
                              "observed": fmt_percent_ci(g.observed, g.lower, g.upper)}
                             for i, g in enumerate(cal.groups)],
        "epv": f"{epv:.1f}", "epv_low": epv < 10,
    }


def ph_context(result: AnalysisResult) -> dict[str, Any] | None:
    """Per-variable and global cox.zph tests, and what they mean for the reported HRs."""
    ph = result.ph_test
    if ph is None:
        return None
    rows = [{"label": _var_label(result, name), "name": name, "chisq": f"{t.chisq:.2f}", "df": t.df,
             "p": p_number(t.p), "flag": bool(np.isfinite(t.p) and t.p < PH_ALPHA),
             "marker": name == result.marker} for name, t in ph.terms.items()]
    g = ph.global_test
    return {"rows": rows, "global": {"chisq": f"{g.chisq:.2f}", "df": g.df, "p": p_number(g.p)},
            "sentence": ph_sentence(result), "transform": ph.transform}


def ph_violations(result: AnalysisResult) -> list[str]:
    """Names of the variables whose PH test has p < 0.05."""
    ph = result.ph_test
    if ph is None:
        return []
    return [name for name, t in ph.terms.items() if np.isfinite(t.p) and t.p < PH_ALPHA]


def ph_sentence(result: AnalysisResult) -> str:
    ph = result.ph_test
    assert ph is not None
    flagged = ph_violations(result)
    global_p = fmt_p(ph.global_test.p)
    if not flagged:
        return (f"No variable shows evidence against proportional hazards (every p ≥ {PH_ALPHA:g}; global test "
                f"{global_p}): a hazard ratio that is constant over follow-up is a reasonable summary.")
    names = ", ".join(f"{_var_label(result, n)} ({fmt_p(ph.terms[n].p)})" for n in flagged)
    return (f"The test suggests non-proportional hazards for {names}; global test {global_p}. For "
            f"{'that variable' if len(flagged) == 1 else 'those variables'} the hazard ratio changes over "
            "follow-up (see the residual plot: a sloping smooth), so the hazard ratio reported above is an average "
            "over the follow-up period rather than a constant effect.")
