"""How the default ``casting_threshold`` was chosen, from the shipped training tables alone (prints; not a test).

Run from the repository root (about half a minute)::

    python benchmarks/casting_threshold.py

For each tuning family in turn, the learned model (:mod:`prognosis.imaging.learned`) is fitted on
the training tables of the other families and scores the breasts of the left-out one; the casting
sensitivity and specificity of each fold are printed at every threshold of a 0.05 grid, with the
mean Youden index (sensitivity + specificity - 1) over the folds. The default threshold is the
grid point with the largest mean Youden index. The held-out family
(:data:`~prognosis.simulate.families.HELD_OUT`) is not in the tables and plays no part; its
figures come from ``benchmarks/imaging_families.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prognosis.imaging.learned import TRAINING_CLUSTERS, TRAINING_VIEWS, fit_model, view_evidence
from prognosis.imaging.params import ExtractionParameters

GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)
KEYS = ["patient_id", "laterality"]


def left_out_probabilities(clusters: pd.DataFrame, views: pd.DataFrame) -> pd.DataFrame:
    """Per breast of every tuning family: its true class and the casting probability of a model fitted without its family."""
    parts = []
    for family in sorted(set(views["family"])):
        model = fit_model(clusters[clusters["family"] != family], views[views["family"] != family])
        mine, my_views = clusters[clusters["family"] == family], views[views["family"] == family]
        scored = pd.concat([mine[["file"]], model.cluster_probabilities(mine)], axis=1)
        evidence = view_evidence(scored, ["file"])
        per_view = my_views.merge(evidence, on="file", how="left").fillna({c: 0.0 for c in evidence.columns})
        proba = model.breast_probabilities(per_view, KEYS)
        truth = my_views.groupby(KEYS, sort=True)["breast_class"].first().reset_index()
        parts.append(truth.merge(proba, on=KEYS, validate="one_to_one").assign(family=family))
    return pd.concat(parts, ignore_index=True)


def sweep(breasts: pd.DataFrame) -> pd.DataFrame:
    """Casting sensitivity and specificity per fold and threshold, and the mean Youden index."""
    rows = []
    for threshold in GRID:
        row = {"threshold": threshold}
        youden = []
        for family, fold in breasts.groupby("family", sort=True):
            casting = (fold["breast_class"] == "casting").to_numpy()
            called = (fold["casting_probability"] >= threshold).to_numpy()
            sensitivity, specificity = called[casting].mean(), (~called[~casting]).mean()
            row[f"{family}_sens"], row[f"{family}_spec"] = sensitivity, specificity
            youden.append(sensitivity + specificity - 1)
        row["mean_youden"] = float(np.mean(youden))
        rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:
    clusters, views = pd.read_csv(TRAINING_CLUSTERS), pd.read_csv(TRAINING_VIEWS)
    table = sweep(left_out_probabilities(clusters, views))
    pd.set_option("display.width", 200)
    print(f"leave-one-family-out on the training tables ({', '.join(sorted(set(views['family'])))}; "
          f"{len(views) // 2} breasts)")
    print(table.round(3).to_string(index=False))
    best = table.loc[table["mean_youden"].idxmax(), "threshold"]
    print(f"\nlargest mean Youden index at threshold {best:.2f}; the default casting_threshold is "
          f"{ExtractionParameters().casting_threshold}")


if __name__ == "__main__":
    main()
