"""The calcification extractor on real digitised films (prints; not a test). Issue 10, build item 5.

Run from the repository root::

    python benchmarks/real_films.py [--shared ../shared] [--tolerance-mm 5]

reads the films of ``<shared>/real_calcifications`` where they are (never copied into the project;
licences in that folder's README) and runs the extractor at its default parameters through
:mod:`prognosis.imaging.film`. The folder is found as ``--shared``, else ``$PROGNOSIS_SHARED_DIR``,
else ``../shared`` beside the repository root. It prints:

(a) films without annotated calcification (the 8 CBIS-DDSM mass films, the 19 mini-MIAS normals):
    the call per film, the number called casting (target 0) and the shares called calcified / none;
(b) mini-MIAS cluster detection: an annotated cluster (centre and radius, mini-MIAS y measured
    from the *bottom* of the 1024 x 1024 image, so row = 1024 - y) is found when the centre of an
    extracted cluster lies within its radius. Many annotated radii are 3-14 px (0.6-2.8 mm),
    tighter than a centroid's position error, so the figures are also given with the radius
    floored at ``--tolerance-mm`` (default 5 mm, half the 1 cm of a BI-RADS "grouped" cluster).
    An extracted cluster within no annotated circle is a false cluster; false clusters per image
    are counted on the 22 calcification films that have coordinates (3 films, whose calcifications
    are spread widely, have none and are left out of both figures) and on the 19 normals;
(c) the CBIS-DDSM descriptor table's class frequencies (labels only, no images), as context.

Detection figures are measured here, not asserted by a test; the no-casting-call check on the
films without calcification is ``tests/imaging/test_real_films.py``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from prognosis.imaging.film import analyse_film, read_film

pd.set_option("display.width", 200)
pd.set_option("display.max_rows", 200)

MIAS_SIDE_PX = 1024


def find_shared(given: str | None = None) -> Path | None:
    """``<shared>/real_calcifications``: ``given``, else $PROGNOSIS_SHARED_DIR, else ../shared beside the repo."""
    root = Path(__file__).resolve().parents[1]
    for candidate in (given, os.environ.get("PROGNOSIS_SHARED_DIR"), root.parent / "shared"):
        if candidate and (Path(candidate) / "real_calcifications" / "labels.csv").is_file():
            return Path(candidate) / "real_calcifications"
    return None


def load_films(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per film (file, source, spacing, view, laterality, calcified) and the annotated clusters (mm)."""
    labels = pd.read_csv(folder / "labels.csv")
    labels["view"] = labels["view"].astype(str).str.split().str[0]
    labels["laterality"] = labels["laterality"].astype(str).str[0]
    labels["source"] = np.where(labels["file"].str.startswith("mini_mias/"), "mini-MIAS", "CBIS-DDSM")
    labels["calcified"] = labels["mapped_class"] != "none"
    films = labels.drop_duplicates("file")[["file", "source", "pixel_spacing_mm", "view", "laterality", "calcified"]]
    marks = labels[labels["calcified"] & labels["roi_x"].notna()].copy()
    spacing = marks["pixel_spacing_mm"]
    # mini-MIAS: x from the left, y from the bottom edge (Info.txt); the extractor: mm from the top-left
    marks["x_mm"] = (marks["roi_x"] + 0.5) * spacing
    marks["y_mm"] = (MIAS_SIDE_PX - marks["roi_y"] + 0.5) * spacing
    marks["radius_mm"] = marks["roi_radius_px"] * spacing
    marks["y_from_top_mm"] = (marks["roi_y"] + 0.5) * spacing     # the wrong reading, for the convention check
    columns = ["file", "pathology", "x_mm", "y_mm", "radius_mm", "y_from_top_mm"]
    return films.reset_index(drop=True), marks[columns].reset_index(drop=True)


def extract_all(folder: Path, films: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The view call per film and every extracted cluster (file, x_mm, y_mm, class)."""
    rows, clusters = [], []
    for film in films.itertuples():
        start = time.perf_counter()
        image = read_film(folder / film.file, film.pixel_spacing_mm, laterality=film.laterality, view=film.view)
        _, _, found, summary = analyse_film(image)
        rows.append({"file": film.file, "call": summary["calcification_class"], "n_clusters": summary["n_clusters"],
                     "casting_score": round(summary["casting_score"], 3), "seconds": time.perf_counter() - start})
        if len(found):
            clusters.append(found[["x_mm", "y_mm", "calcification_class"]].assign(file=film.file))
    calls = films.merge(pd.DataFrame(rows), on="file")
    found = pd.concat(clusters, ignore_index=True) if clusters else pd.DataFrame(columns=["x_mm", "y_mm", "file"])
    return calls, found


def match(marks: pd.DataFrame, found: pd.DataFrame, floor_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Which annotated clusters are found, and which extracted clusters lie in no annotated circle."""
    hit = np.zeros(len(marks), bool)
    inside_any = np.zeros(len(found), bool)
    for i, mark in enumerate(marks.itertuples()):
        same = (found["file"] == mark.file).to_numpy()
        dist = np.hypot(found["x_mm"].to_numpy() - mark.x_mm, found["y_mm"].to_numpy() - mark.y_mm)
        inside = same & (dist <= max(mark.radius_mm, floor_mm))
        hit[i] = inside.any()
        inside_any |= inside
    return hit, ~inside_any


def report_normals(calls: pd.DataFrame) -> None:
    normal = calls[~calls["calcified"]]
    print(f"(a) films without annotated calcification: {len(normal)}")
    print(normal[["file", "view", "laterality", "call", "n_clusters", "casting_score"]].to_string(index=False))
    for source, group in [("all", normal), *normal.groupby("source")]:
        n, cast, none = len(group), int((group["call"] == "casting").sum()), int((group["call"] == "none").sum())
        print(f"  {source:9s} n={n:2d}  called casting {cast} (target 0)  calcified {n - none}/{n} = "
              f"{(n - none) / n:.2f}  none {none}/{n} = {none / n:.2f}")
    print("  calls:", normal["call"].value_counts().to_dict())


def report_detection(calls: pd.DataFrame, marks: pd.DataFrame, found: pd.DataFrame, tolerance_mm: float) -> None:
    mias = calls[calls["source"] == "mini-MIAS"]
    calc_files = set(mias.loc[mias["calcified"], "file"])
    with_marks = sorted(set(marks["file"]))
    normals = set(mias.loc[~mias["calcified"], "file"])
    print(f"\n(b) mini-MIAS detection: {len(marks)} annotated clusters with centre and radius on {len(with_marks)} films "
          f"({len(calc_files) - len(with_marks)} calcification films without coordinates left out); "
          f"{len(normals)} normal films")
    print(f"  calls on the {len(calc_files)} calcification films:",
          mias.loc[mias["calcified"], "call"].value_counts().to_dict())
    in_marked = found[found["file"].isin(with_marks)].reset_index(drop=True)
    on_normals = int(found["file"].isin(normals).sum())
    for label, floor in (("within the annotated radius", 0.0), (f"within max(radius, {tolerance_mm:g} mm)", tolerance_mm)):
        hit, false = match(marks, in_marked, floor)
        films_hit = marks.assign(hit=hit).groupby("file")["hit"].any()
        by_path = marks.assign(hit=hit).groupby("pathology")["hit"].agg(["sum", "size"])
        print(f"  rule: an extracted cluster centre {label}")
        print(f"    cluster sensitivity {hit.sum()}/{len(hit)} = {hit.mean():.2f}  ("
              + ", ".join(f"{p.lower()} {r['sum']}/{r['size']}" for p, r in by_path.iterrows()) + ")")
        print(f"    film sensitivity (>= 1 cluster found) {int(films_hit.sum())}/{len(films_hit)} = {films_hit.mean():.2f}")
        print(f"    false clusters per image: calcification films {false.sum() / len(with_marks):.2f} "
              f"({int(false.sum())}/{len(with_marks)}), normal films {on_normals / len(normals):.2f} "
              f"({on_normals}/{len(normals)}), together {(false.sum() + on_normals) / (len(with_marks) + len(normals)):.2f}")
    wrong, _ = match(marks.assign(y_mm=marks["y_from_top_mm"]), in_marked, 0.0)
    print(f"  convention check: with y read from the top instead, cluster sensitivity would be {wrong.sum()}/{len(wrong)}")
    print("  (CAD reference in issue 10: 90% case sensitivity at 0.63 false clusters per image)")


def report_descriptors(folder: Path) -> None:
    table = pd.read_csv(folder / "cbis_ddsm_calc_descriptors_mapped.csv")
    counts = pd.crosstab(table["mapped_class"].fillna("unmapped"), table["pathology"], margins=True, margins_name="total")
    counts["share"] = (counts["total"] / len(table)).round(3)
    print(f"\n(c) CBIS-DDSM calcification descriptors mapped to the five classes ({len(table)} ROIs, labels only)")
    print(counts.to_string())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", help="folder holding real_calcifications/ (default: ../shared beside the repo)")
    parser.add_argument("--tolerance-mm", type=float, default=5.0, help="radius floor of the second matching rule")
    args = parser.parse_args(argv)
    folder = find_shared(args.shared)
    if folder is None:
        print("real_calcifications not found (../shared beside the repository, $PROGNOSIS_SHARED_DIR or --shared); "
              "nothing to measure")
        return
    films, marks = load_films(folder)
    start = time.perf_counter()
    calls, found = extract_all(folder, films)
    print(f"{len(calls)} films from {folder}, default extractor parameters, "
          f"{time.perf_counter() - start:.1f} s ({calls['seconds'].mean():.2f} s per film)\n")
    report_normals(calls)
    report_detection(calls, marks, found, args.tolerance_mm)
    report_descriptors(folder)


if __name__ == "__main__":
    main()
