"""Quality-review PNGs: the working image with calcification outlines, cluster boxes and a legend.

Calcifications in a cluster are outlined in the colour of the cluster's class, those in no cluster
in grey-blue; each cluster gets its bounding box; the analysed region's edge is drawn faintly.
Beside the image (at its own pixel size, so a millimetre is the same length in both) a panel lists
the classes drawn with their colours and counts, and a scale bar in mm; a title strip above names
the file, laterality, view and pixel size and gives the view's call and the breast's call (CC and
MLO combined). Images are extracted one at a time, so the breast's call is known only when a batch
ends: :func:`stamp_breast_calls` then redraws the title strips. Nothing else of the header is shown
(no patient name, id or dates).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from skimage.draw import rectangle_perimeter
from skimage.segmentation import find_boundaries

logger = logging.getLogger(__name__)

CLASS_COLOURS = {"casting": (1.0, 0.1, 0.1), "crushed_stone": (1.0, 0.6, 0.0), "powdery": (1.0, 1.0, 0.2),
                 "coarse_benign": (0.2, 0.9, 0.2), "none": (0.4, 0.6, 1.0)}
CLASS_LABELS = {"casting": "casting", "crushed_stone": "crushed stone", "powdery": "powdery",
                "coarse_benign": "coarse benign", "none": "none"}
# legend order: most suspicious first, as a reader scans for the worst finding
_LEGEND_ORDER = ("casting", "crushed_stone", "powdery", "coarse_benign", "none")
REGION_COLOUR = (0.3, 0.3, 0.8)
NOT_CLUSTERED = "not in a cluster"
_ROUND_LENGTHS_MM = (1, 2, 5, 10, 20, 50, 100)
_TITLE_HEIGHT_KEY = "prognosis-title-height"     # PNG text chunk: where the redrawable title strip ends
_DPI = 100


@dataclass(frozen=True)
class LegendEntry:
    """One line of the legend: what a colour means and how many of it are drawn.

    ``calcification_class`` is None for calcifications in no cluster (drawn, never boxed).
    """

    label: str
    calcification_class: str | None
    colour: tuple[float, float, float]
    n_clusters: int
    n_calcifications: int


@dataclass(frozen=True)
class ScaleBar:
    """A round length in mm and its length in pixels of the image."""

    length_mm: float
    length_px: int


def legend_entries(calcifications: pd.DataFrame, clusters: pd.DataFrame) -> tuple[LegendEntry, ...]:
    """The legend of an overlay: each class among ``clusters``, then calcifications in no cluster.

    Counts are of what :func:`render_overlay` draws: a box per cluster and an outline per row of
    ``calcifications`` (coloured by its cluster's class; ``cluster_id`` 0 or unknown is in no
    cluster). Classes absent from the image get no entry.

    Parameters
    ----------
    calcifications : DataFrame
        With ``cluster_id`` (0 = not in a cluster).
    clusters : DataFrame
        With ``cluster_id`` and ``calcification_class``.

    Returns
    -------
    tuple of LegendEntry
        Most suspicious class first.
    """
    cluster_class = (dict(zip(clusters["cluster_id"], clusters["calcification_class"]))
                     if len(clusters) else {})
    member_class = (calcifications["cluster_id"].map(cluster_class) if len(calcifications)
                    else pd.Series(dtype=object))
    entries = []
    present = set(cluster_class.values())
    for cls in [*_LEGEND_ORDER, *sorted(str(c) for c in present - set(_LEGEND_ORDER))]:
        if cls not in present:
            continue
        entries.append(LegendEntry(CLASS_LABELS.get(cls, cls), cls, _colour(cls),
                                   sum(1 for c in cluster_class.values() if c == cls), int((member_class == cls).sum())))
    n_loose = int(member_class.isna().sum())
    if n_loose:
        entries.append(LegendEntry(NOT_CLUSTERED, None, CLASS_COLOURS["none"], 0, n_loose))
    return tuple(entries)


def scale_bar(width_px: int, spacing_mm: float, *, fraction: float = 0.2) -> ScaleBar:
    """A round length (1, 2, 5, 10, 20, 50 or 100 mm) nearest to ``fraction`` of the image width.

    Nearest on a log scale, so 10.2 mm of a 51 mm field gives 10 mm and 46.6 mm of a 233 mm
    full field gives 50 mm; the bar is ``length_mm / spacing_mm`` pixels, rounded.
    """
    target_mm = fraction * width_px * spacing_mm
    length_mm = min(_ROUND_LENGTHS_MM, key=lambda v: abs(math.log(v / target_mm)))
    return ScaleBar(float(length_mm), int(round(length_mm / spacing_mm)))


def _colour(cls) -> tuple[float, float, float]:
    return CLASS_COLOURS.get(cls, CLASS_COLOURS["none"])


def render_overlay(analysis, calcifications: pd.DataFrame, clusters: pd.DataFrame) -> np.ndarray:
    """RGB float image in [0, 1] at the working pixel size (outlines and boxes, no legend)."""
    from scipy import ndimage

    grey = analysis.pixels
    rgb = np.repeat(grey[..., None], 3, axis=2).astype(np.float32)
    region_edge = find_boundaries(analysis.region.analysis, mode="inner")
    rgb[region_edge] = 0.5 * rgb[region_edge] + 0.5 * np.array(REGION_COLOUR)
    labels = analysis.detection.labels
    if len(calcifications):
        # measured calcifications keep their id order; candidates dropped by size are not drawn
        colour_of = {}
        cls_of = dict(zip(clusters.get("cluster_id", []), clusters.get("calcification_class", [])))
        for cid, cluster in zip(calcifications["calcification_id"], calcifications["cluster_id"]):
            colour_of[cid] = _colour(cls_of.get(cluster, "none"))
        edges = find_boundaries(labels, mode="outer")
        # an outer boundary pixel takes the colour of the label next to it
        nearest = ndimage.grey_dilation(labels, size=(3, 3))
        for value in np.unique(nearest[edges]):
            colour = colour_of.get(int(value))
            if colour is not None:
                rgb[edges & (nearest == value)] = colour
    s = analysis.spacing_mm
    line_px = max(1, int(round(max(rgb.shape[:2]) / 700)))
    for _, cluster in clusters.iterrows():
        members = calcifications[calcifications["cluster_id"] == cluster["cluster_id"]]
        pad = 1.0
        r0 = int(max((members["y_mm"].min() - pad) / s, 0))
        c0 = int(max((members["x_mm"].min() - pad) / s, 0))
        r1 = int(min((members["y_mm"].max() + pad) / s, rgb.shape[0] - 1))
        c1 = int(min((members["x_mm"].max() + pad) / s, rgb.shape[1] - 1))
        for k in range(line_px):    # thicker on a large image, so a box survives viewing it fitted to a screen
            rr, cc = rectangle_perimeter((r0 - k, c0 - k), end=(r1 + k, c1 + k), shape=rgb.shape[:2], clip=True)
            rgb[rr, cc] = CLASS_COLOURS.get(cluster["calcification_class"], (1, 1, 1))
    return np.clip(rgb, 0, 1)


# --------------------------------------------------------------------------------------------
# the figure: title strip, image, legend panel
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Layout:
    image_rows: int
    image_cols: int
    font_px: float
    title_px: int
    panel_px: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.title_px + self.image_rows, self.image_cols + self.panel_px


def _layout(image_rows: int, image_cols: int) -> _Layout:
    # text sized to the image, so that it stays legible when the PNG is viewed fitted to a screen
    font_px = float(np.clip(image_rows / 36, 13, 60))
    return _Layout(image_rows, image_cols, font_px, int(round(3.2 * font_px)),
                   max(int(round(15 * font_px)), int(round(0.24 * image_cols)) + int(2 * font_px)))


def _title_lines(file: str, image: dict | None, breast_call: str | None) -> tuple[str, str]:
    image = image or {}
    where = " ".join(str(image[k]) for k in ("laterality", "view") if isinstance(image.get(k), str) and image[k])
    spacing, shown = image.get("pixel_spacing_mm"), image.get("working_spacing_mm")
    pixel = ""
    if _number(spacing) and _number(shown) and abs(float(spacing) - float(shown)) > 1e-6:
        pixel = f"pixel {_mm(spacing)} mm, shown at {_mm(shown)} mm"    # the extractor's working size
    elif _number(spacing):
        pixel = f"pixel {_mm(spacing)} mm"
    first = " · ".join(part for part in (file, where, pixel) if part)
    view_call = image.get("calcification_class")
    second = f"this view: {CLASS_LABELS.get(view_call, view_call)}" if isinstance(view_call, str) else ""
    breast = (f"breast (CC + MLO): {CLASS_LABELS.get(breast_call, breast_call)}" if breast_call
              else "breast (CC + MLO): set when the batch ends")
    return first, f"{second}  ·  {breast}" if second else breast


def _mm(value) -> str:
    """0.0999 -> 0.1, 0.07 -> 0.07: the resampled spacing is a float a hair off the round one."""
    return f"{float(value):.3f}".rstrip("0").rstrip(".")


def _number(value) -> bool:
    return isinstance(value, (int, float, np.floating)) and np.isfinite(value)


def _new_figure(rows: int, cols: int):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(cols / _DPI, rows / _DPI), dpi=_DPI, facecolor="black")
    FigureCanvasAgg(fig)
    return fig


def _pixels_of(fig) -> np.ndarray:
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def _text(fig, x_px: float, y_px: float, text: str, size_px: float, **kwargs) -> None:
    """Text at pixel (x, y) from the figure's top left (matplotlib counts from the bottom)."""
    width, height = fig.get_size_inches() * _DPI
    fig.text(x_px / width, 1 - y_px / height, text, fontsize=size_px * 72 / _DPI, color=kwargs.pop("color", "white"),
             va=kwargs.pop("va", "top"), ha=kwargs.pop("ha", "left"), family="DejaVu Sans", **kwargs)


def _title_strip(layout: _Layout, lines: tuple[str, str], width: int) -> np.ndarray:
    fig = _new_figure(layout.title_px, width)
    f = layout.font_px
    _text(fig, 0.5 * f, 0.35 * f, lines[0], f, fontweight="bold")
    _text(fig, 0.5 * f, 1.75 * f, lines[1], f)
    return _pixels_of(fig)


def _panel(layout: _Layout, entries: tuple[LegendEntry, ...], bar: ScaleBar, note: str = "") -> np.ndarray:
    from matplotlib.patches import Rectangle

    rows, cols = layout.image_rows, layout.panel_px
    fig = _new_figure(rows, cols)
    f = layout.font_px
    y = 0.6 * f

    def box(x0, y0, w, h, **kwargs):
        fig.add_artist(Rectangle((x0 / cols, 1 - (y0 + h) / rows), w / cols, h / rows, transform=fig.transFigure,
                                 **kwargs))

    box(0, 0, max(1, 0.08 * f), rows, facecolor="0.45", edgecolor="none")     # where the image ends
    _text(fig, 0.6 * f, y, "calcifications drawn", f, fontweight="bold")
    y += 1.7 * f
    if not entries:
        _text(fig, 0.6 * f, y, "none detected", f, color="0.8")
        y += 1.6 * f
    for entry in entries:
        box(0.6 * f, y + 0.1 * f, 0.9 * f, 0.9 * f, facecolor=entry.colour, edgecolor="white", linewidth=0.5)
        _text(fig, 2.0 * f, y, entry.label, f, fontweight="bold")
        counts = (f"{entry.n_clusters} cluster{'s' if entry.n_clusters != 1 else ''}, " if entry.calcification_class
                  else "")
        counts += f"{entry.n_calcifications} calcification{'s' if entry.n_calcifications != 1 else ''}"
        _text(fig, 2.0 * f, y + 1.2 * f, counts, 0.85 * f, color="0.85")
        y += 2.7 * f
    box(0.6 * f, y + 0.4 * f, 0.9 * f, 0.12 * f, facecolor=REGION_COLOUR, edgecolor="none")
    _text(fig, 2.0 * f, y, "analysed region", 0.85 * f, color="0.85")
    y += 1.5 * f
    _text(fig, 0.6 * f, y, "boxes: clusters, in their class's colour", 0.75 * f, color="0.7")
    if note:
        _text(fig, 0.6 * f, y + 1.3 * f, note, 0.75 * f, color="0.7")
    # the scale bar, at the image's own pixel size (the panel is not rescaled)
    bar_y = rows - 1.4 * f
    box(0.6 * f, bar_y, bar.length_px, max(0.25 * f, 3), facecolor="white", edgecolor="none")
    _text(fig, 0.6 * f, bar_y - 0.3 * f, f"{bar.length_mm:g} mm", f, va="bottom")
    return _pixels_of(fig)


def overlay_figure(analysis, calcifications: pd.DataFrame, clusters: pd.DataFrame, *, file: str = "",
                   image: dict | None = None, breast_call: str | None = None) -> tuple[np.ndarray, int]:
    """The whole PNG as uint8 RGB: title strip, the overlay, and the legend panel to its right.

    Parameters
    ----------
    analysis : prognosis.imaging.extract.Analysis
    calcifications, clusters : DataFrame
        The image's tables (clusters classified).
    file : str
        The file name shown in the title.
    image : dict, optional
        The image's row (``laterality``, ``view``, ``pixel_spacing_mm``, ``calcification_class``).
    breast_call : str, optional
        The breast's class (CC and MLO combined), when known.

    Returns
    -------
    (ndarray, int)
        The picture and the height of its title strip in pixels.
    """
    rgb = (render_overlay(analysis, calcifications, clusters) * 255 + 0.5).astype(np.uint8)
    layout = _layout(*rgb.shape[:2])
    picture = np.zeros((*layout.shape, 3), np.uint8)
    picture[:layout.title_px] = _title_strip(layout, _title_lines(file, image, breast_call), layout.shape[1])
    picture[layout.title_px:, :layout.image_cols] = rgb
    bar = scale_bar(layout.image_cols, analysis.spacing_mm)
    entries = legend_entries(calcifications, clusters)
    note = ""
    view_call = (image or {}).get("calcification_class")
    if view_call not in (None, "none") and all(e.calcification_class != view_call for e in entries):
        # summarize_view calls a view coarse benign from scattered coarse calcifications in no cluster
        note = f"{CLASS_LABELS.get(view_call, view_call)}: from calcifications\nin no cluster"
    picture[layout.title_px:, layout.image_cols:] = _panel(layout, entries, bar, note)
    return picture, layout.title_px


def _save_png(path: Path, picture: np.ndarray, title_px: int) -> None:
    """Write atomically, recording the title strip's height for :func:`stamp_breast_calls`."""
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text(_TITLE_HEIGHT_KEY, str(title_px))
    tmp = path.with_name(".tmp-" + path.name)
    Image.fromarray(picture).save(tmp, format="PNG", pnginfo=info)
    os.replace(tmp, path)


def write_overlay(path: str | Path, analysis, calcifications: pd.DataFrame, clusters: pd.DataFrame, *,
                  image: dict | None = None, breast_call: str | None = None) -> Path:
    """Write the overlay PNG (atomically) and return its path; see :func:`overlay_figure`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    file = str((image or {}).get("file") or path.stem)
    picture, title_px = overlay_figure(analysis, calcifications, clusters, file=file, image=image,
                                       breast_call=breast_call)
    _save_png(path, picture, title_px)
    return path


def overlay_name(file: str) -> str:
    """The PNG name of an image's overlay: its path in the input folder, ``/`` as ``__``."""
    return Path(file).with_suffix("").as_posix().replace("/", "__") + ".png"


def stamp_breast_calls(overlay_dir: str | Path, images: pd.DataFrame, breasts: pd.DataFrame) -> int:
    """Redraw the title strip of each image's overlay with its breast's call; returns how many.

    Parameters
    ----------
    overlay_dir : str or Path
        Where the batch wrote the overlays.
    images : DataFrame
        The per-image table (``file``, ``status``, ``patient_id``, ``laterality``, ``view``...).
    breasts : DataFrame
        One row per breast with ``patient_id``, ``laterality`` and ``calcification_class``.
    """
    from PIL import Image

    overlay_dir = Path(overlay_dir)
    if not len(images) or not len(breasts):
        return 0
    call = {(str(p), str(s)): c for p, s, c in zip(breasts["patient_id"], breasts["laterality"],
                                                   breasts["calcification_class"])}
    n = 0
    for row in images[images["status"] == "ok"].to_dict("records"):
        path = overlay_dir / overlay_name(str(row["file"]))
        breast_call = call.get((str(row["patient_id"]), str(row["laterality"])))
        if breast_call is None or not path.exists():
            continue
        with Image.open(path) as png:
            title_px = int(png.text.get(_TITLE_HEIGHT_KEY, 0)) if hasattr(png, "text") else 0
            picture = np.asarray(png.convert("RGB")).copy()
        if not title_px:
            continue          # an overlay of an older version: no strip to redraw
        layout = _layout(picture.shape[0] - title_px, picture.shape[1])    # the strip depends on the rows only
        picture[:title_px] = _title_strip(layout, _title_lines(str(row["file"]), row, breast_call), picture.shape[1])
        _save_png(path, picture, title_px)
        n += 1
    return n

