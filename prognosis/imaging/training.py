"""Build the training tables of the learned calcification classifier from the tuning phantom families.

Run from the repository root (about a minute per 100 breasts and family on two cores)::

    python -m prognosis.imaging.training [--n 250] [--seed 101] [--workers 2]

renders ``--n`` breasts (CC and MLO) of each family in
:data:`~prognosis.simulate.families.TUNING`, extracts them with the transparent rules
(``classifier="rules"``: the tables must not depend on the model they train), labels every
detected cluster from the phantom's truth and writes ``training_clusters.csv.gz`` and
``training_views.csv.gz`` to ``prognosis/imaging/data/`` (see :mod:`prognosis.imaging.learned`).
The held-out family (:data:`~prognosis.simulate.families.HELD_OUT`) is refused.

Labels: a cluster whose members hit lesion particles of the phantom (within the hit radius of
:func:`~prognosis.imaging.evaluate.match_detections`) for at least :data:`LESION_FRACTION` of them
takes its breast's true class; any other cluster (noise, texture, ligament, calcified vessel wall
drawn as a distractor) is ``none``.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from prognosis.imaging.evaluate import match_detections
from prognosis.imaging.learned import CLUSTER_FEATURES, TRAINING_VIEWS, TRAINING_CLUSTERS
from prognosis.imaging.params import ExtractionParameters
from prognosis.simulate.families import FAMILIES, HELD_OUT, TUNING

logger = logging.getLogger(__name__)

#: a cluster is a lesion's when at least this share of its members hit lesion particles
LESION_FRACTION = 1 / 3
RULES = replace(ExtractionParameters(), classifier="rules")


def lesion_fractions(calcifications: pd.DataFrame, truth: pd.DataFrame) -> pd.Series:
    """Per (file, cluster_id), the share of the cluster's members that hit a lesion particle."""
    clustered = calcifications[calcifications["cluster_id"] > 0]
    parts = []
    for file, members in clustered.groupby("file", sort=True):
        particles = truth[truth["file"] == file].reset_index(drop=True)
        hit, _ = match_detections(members, particles)
        lesion = np.zeros(len(members), bool)
        if len(particles):
            roles = particles["role"].to_numpy()
            lesion = (hit >= 0) & (roles[np.maximum(hit, 0)] == "lesion")
        parts.append(pd.DataFrame({"file": file, "cluster_id": members["cluster_id"].to_numpy(), "lesion": lesion}))
    if not parts:
        return pd.Series(dtype=float)
    return pd.concat(parts).groupby(["file", "cluster_id"])["lesion"].mean()


def label_family(extracted: Path, stem: str, phantoms: Path, family: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training rows of one rendered and extracted family: (clusters, views)."""
    clusters = pd.read_parquet(extracted / f"{stem}.clusters.parquet")
    calcs = pd.read_parquet(extracted / f"{stem}.calcifications.parquet")
    images = pd.read_parquet(extracted / f"{stem}.images.parquet")
    images = images[images["status"] == "ok"]
    breasts = pd.read_csv(phantoms / "truth_breasts.csv", dtype={"patient_id": str})
    truth = pd.read_csv(phantoms / "truth_calcifications.csv", dtype={"patient_id": str})
    if "role" not in truth:      # the native renderer draws lesions only
        truth["role"] = "lesion"
    true_class = breasts.set_index("patient_id")["calcification_class"]
    views = images[["file", "patient_id", "laterality", "n_coarse"]].assign(family=family)
    views["breast_class"] = views["patient_id"].map(true_class)
    fractions = lesion_fractions(calcs, truth)
    clusters = clusters.merge(images[["file", "patient_id", "laterality"]], on="file", how="inner")
    key = pd.MultiIndex.from_frame(clusters[["file", "cluster_id"]])
    clusters["lesion_fraction"] = fractions.reindex(key).fillna(0.0).to_numpy()
    clusters["breast_class"] = clusters["patient_id"].map(true_class)
    lesion = (clusters["lesion_fraction"] >= LESION_FRACTION) & (clusters["breast_class"] != "none")
    clusters["label"] = np.where(lesion, clusters["breast_class"], "none")
    keep = ["family", "file", "patient_id", "laterality", "label", "breast_class", "lesion_fraction",
            *CLUSTER_FEATURES]
    return clusters.assign(family=family)[keep], views


def build_tables(families=TUNING, *, n: int, seed: int, workers: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Render, extract and label ``families``; returns (clusters, views)."""
    from prognosis.imaging.batch import run_batch

    if HELD_OUT in families:
        raise ValueError(f"the held-out family {HELD_OUT!r} must never enter training")
    cluster_parts, view_parts = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in families:
            phantoms = Path(tmp) / name
            FAMILIES[name].simulate(phantoms, n=n, seed=seed, workers=workers)
            run_batch(phantoms, Path(tmp) / f"{name}.parquet", params=RULES, workers=workers if workers > 1 else None)
            clusters, views = label_family(Path(tmp), name, phantoms, name)
            cluster_parts.append(clusters)
            view_parts.append(views)
            logger.info("%s: %d clusters (%d lesion), %d views", name, len(clusters),
                        int((clusters["label"] != "none").sum()), len(views))
    return pd.concat(cluster_parts, ignore_index=True), pd.concat(view_parts, ignore_index=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=250, help="breasts per family (two images each)")
    parser.add_argument("--seed", type=int, default=101)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--families", default=",".join(TUNING))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    families = tuple(f.strip() for f in args.families.split(",") if f.strip())
    clusters, views = build_tables(families, n=args.n, seed=args.seed, workers=args.workers)
    TRAINING_CLUSTERS.parent.mkdir(parents=True, exist_ok=True)
    # fixed precision and no timestamp in the gzip header: the same inputs give the same bytes
    for frame, path in ((clusters, TRAINING_CLUSTERS), (views, TRAINING_VIEWS)):
        frame.to_csv(path, index=False, float_format="%.6g", compression={"method": "gzip", "mtime": 0})
    print(f"wrote {len(clusters)} clusters to {TRAINING_CLUSTERS} and {len(views)} views to {TRAINING_VIEWS}")


if __name__ == "__main__":
    main()
