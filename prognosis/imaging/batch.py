"""Extraction over a folder: streaming, resumable, optionally on a Dask cluster.

Each image's tables are written atomically to a work folder (``<key>.calcifications.parquet``,
``<key>.clusters.parquet``, then ``<key>.image.parquet`` last, each via a temporary name and
``os.replace``). An image is done when its ``image`` file exists, so a killed run restarts where
it stopped and no row is lost or duplicated; the tables are merged at the end. A corrupt or
unsupported file is recorded (status ``failed``, with the DICOM tag at fault) and skipped; so is
a file whose worker died (a decoder crash, the memory limit). A failed file is done too: a rerun
reports it again from its work file and does not read it again. Every failure is listed in
``<stem>.failures.csv`` beside the outputs and counted in the provenance.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from prognosis import __version__
from prognosis._csv import write_csv
from prognosis.errors import DicomError
from prognosis.imaging.classify import BREAST_COLUMNS, combine_breasts
from prognosis.imaging.extract import IMAGE_COLUMNS, extract_image
from prognosis.imaging.output_files import OutputPlan, check_extract_outputs, remove_stale_work_files, write_outputs
from prognosis.imaging.failures import failures_table
from prognosis.imaging.params import ExtractionParameters
from prognosis.imaging.per_patient import RULES, BreastSelection, select_breasts

if TYPE_CHECKING:
    from dask.distributed import LocalCluster

logger = logging.getLogger(__name__)

_NOT_DICOM = {".png", ".jpg", ".jpeg", ".csv", ".txt", ".json", ".parquet", ".md", ".yaml", ".yml", ".html", ".pdf"}
ProgressCallback = Callable[[int, int], None]
# Environment of local worker processes. One thread each, and no BLAS/OpenMP pools either: N
# workers on N cores must not run N x (threads) busy threads (distributed's pre-spawn environment
# sets the first three too; repeated so that a site configuration cannot undo it). Distributed
# also sets MALLOC_TRIM_THRESHOLD_, which freezes glibc's mmap threshold at 128 kB: every image-
# sized array is then a fresh mmap whose pages fault in, and extraction runs 35% slower than
# in a plain process. A fixed 128 MB mmap threshold keeps those arrays on the reused heap, and a
# 256 MB trim threshold and top pad stop glibc from handing the heap's top back after every image
# only to fault it in again for the next (system time per image falls about fivefold; the peak is
# unchanged, as the benchmark's memory probe shows).
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "NUMEXPR_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": str(128 * 2 ** 20),
              "MALLOC_TRIM_THRESHOLD_": str(256 * 2 ** 20), "MALLOC_TOP_PAD_": str(256 * 2 ** 20)}


@dataclass(frozen=True)
class BatchResult:
    """Tables of one extraction run and where they were written.

    Attributes
    ----------
    breasts : DataFrame
        One row per breast, exactly the columns of ``data_dictionary/imaging.yaml``.
    breast_details, images, clusters, calcifications : DataFrame
        Every breast with its score, views and ``kept`` (chosen by the per-patient rule); the
        per-image, per-cluster and per-calcification tables.
    n_files, n_ok, n_failed, n_resumed : int
        Files found; extracted; reported and skipped; taken from an earlier run's work folder.
    selection : BreastSelection
        The per-patient rule applied and what it left out.
    outputs : dict of str to Path
    """

    breasts: pd.DataFrame
    breast_details: pd.DataFrame
    images: pd.DataFrame
    clusters: pd.DataFrame
    calcifications: pd.DataFrame
    n_files: int
    n_ok: int
    n_failed: int
    n_resumed: int
    selection: BreastSelection
    outputs: dict[str, Path] = field(default_factory=dict)


def find_dicom_files(folder: str | Path) -> list[Path]:
    """Every regular file under ``folder`` that may be DICOM (not hidden, not a known other type), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DicomError(f"{folder}: not a folder of DICOM files", path=str(folder))
    files = [p for p in folder.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
             and p.suffix.lower() not in _NOT_DICOM and p.name != "DICOMDIR"]
    return sorted(files)


def image_key(file: str) -> str:
    """Stable name of an image's work files."""
    return hashlib.sha1(file.encode("utf-8")).hexdigest()[:20]


def _image_frame(row: dict) -> pd.DataFrame:
    frame = pd.DataFrame([row], columns=list(IMAGE_COLUMNS))
    text = {"file", "status", "error", "error_tag", "patient_id", "laterality", "laterality_source", "view",
            "presentation_intent", "photometric", "presentation_lut_shape", "spacing_source", "calcification_class",
            "focality", "reader_messages"}
    # fixed dtypes, so a failed image (all NA) concatenates like an extracted one
    return frame.astype({c: ("string" if c in text else "float64") for c in IMAGE_COLUMNS})


def process_file(path: str, file: str, work_dir: str, params: ExtractionParameters,
                 overlay_dir: str | None = None) -> dict:
    """Extract one file and write its work files; returns the image row (runs on a worker)."""
    result = extract_image(path, params, file=file, overlay_dir=overlay_dir)
    _write_work_files(work_dir, file, result.image, result.calcifications, result.clusters)
    return result.image


def _write_work_files(work_dir: str | Path, file: str, image: dict, calcifications: pd.DataFrame,
                      clusters: pd.DataFrame) -> None:
    key = image_key(file)
    work = Path(work_dir)
    _write_table(calcifications, work / f"{key}.calcifications.parquet")
    _write_table(clusters, work / f"{key}.clusters.parquet")
    _write_table(_image_frame(image), work / f"{key}.image.parquet")   # last: marks the image done


def _record_failure(work_dir: str | Path, file: str, error: str) -> dict:
    """Record as failed a file whose extraction raised past :func:`extract_image` or killed its worker.

    Written like any failure, so a rerun reports it and does not extract it again (nor kill
    another worker).
    """
    row = dict.fromkeys(IMAGE_COLUMNS)
    row.update(file=file, status="failed", error=error, error_tag=None)
    _write_work_files(work_dir, file, row, pd.DataFrame(), pd.DataFrame())
    return row


def _run_local(todo: list[tuple[str, str]], work_dir: Path, params: ExtractionParameters, overlay_dir: str | None,
               ) -> Iterator[dict]:
    for path, file in todo:
        try:
            row = process_file(path, file, str(work_dir), params, overlay_dir)
        except OSError:
            raise                  # the work folder or the overlays cannot be written: not this file's fault
        except Exception as exc:   # noqa: BLE001 - one file's failure must not stop the batch
            logger.info("extraction of %s raised %s", file, type(exc).__name__, exc_info=True)
            row = _record_failure(work_dir, file, f"{file}: extraction failed ({type(exc).__name__}: {exc})")
        yield row


# Each worker's event loop wakes every 20 ms (tick watchdog) and samples its memory and the system
# every 100-500 ms, and the scheduler looks for work to steal every 100 ms: each wake-up takes
# the GIL from the extraction thread. With one thread per worker and no queue (saturation 1.0)
# there is nothing to steal, and a second's resolution is plenty for images that take one.
_QUIET_WORKERS = {"distributed.admin.tick.interval": "1s", "distributed.admin.system-monitor.interval": "2s",
                  "distributed.worker.memory.monitor-interval": "1s", "distributed.scheduler.work-stealing": False}


def local_cluster(workers: int, *, memory_limit: str = "1.5GB") -> LocalCluster:
    """A local Dask cluster of ``workers`` single-threaded worker processes, as ``run_batch`` starts.

    Pass its ``scheduler_address`` to :func:`run_batch` (``scheduler=``) to run several batches
    on one cluster, or to time extraction without the cluster's start-up.
    """
    import dask
    from dask.distributed import LocalCluster

    # pre-spawn: glibc reads its MALLOC_ variables when the process starts (the ``env`` argument
    # of a nanny is applied only after); a worker restarted later gets distributed's defaults
    pre_spawn = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENV.items()}
    # worker-saturation 1.0: the scheduler holds back every task a thread cannot start now, so
    # no worker idles at the end of a batch while another still has a queued image
    with dask.config.set({**pre_spawn, "distributed.scheduler.worker-saturation": 1.0, **_QUIET_WORKERS}):
        # preload: each worker imports the extractor (scikit-image, scipy, pydicom) as it starts,
        # not inside its first task, so that cost is start-up and not extraction time
        return LocalCluster(n_workers=workers, threads_per_worker=1, memory_limit=memory_limit, processes=True,
                            dashboard_address=":0", silence_logs=logging.WARNING,
                            preload=["prognosis.imaging.extract"])


def _run_dask(todo: list[tuple[str, str]], work_dir: Path, params: ExtractionParameters, overlay_dir: str | None,
              *, workers: int | None, scheduler: str | None, memory_limit: str) -> Iterator[dict]:
    from dask.distributed import Client, as_completed

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = local_cluster(workers or 1, memory_limit=memory_limit)
        client = Client(cluster)
    try:
        n_workers = max(len(client.scheduler_info().get("workers", {})), 1)
        window = 4 * n_workers               # bounded: never more than this many images in flight
        pending = iter(todo)
        futures = as_completed()
        files = {}
        for path, file in [item for _, item in zip(range(window), pending)]:
            future = client.submit(process_file, path, file, str(work_dir), params, overlay_dir, pure=False)
            files[future.key] = file
            futures.add(future)
        for future in futures:
            file = files.pop(future.key)
            try:
                row = future.result()
            except Exception as exc:   # noqa: BLE001 - KilledWorker and the like: this file, not the batch
                logger.info("extraction of %s on a worker raised %s", file, type(exc).__name__)
                row = _record_failure(work_dir, file, f"{file}: extraction failed on its worker ({type(exc).__name__}"
                                      "); a worker that died may have run out of --memory-limit or met a decoder "
                                      "crash")
            yield row
            future.release()
            nxt = next(pending, None)
            if nxt is not None:
                future = client.submit(process_file, nxt[0], nxt[1], str(work_dir), params, overlay_dir, pure=False)
                files[future.key] = nxt[1]
                futures.add(future)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _read_many(paths: list[Path]) -> pd.DataFrame:
    frames = [pd.read_parquet(p) for p in paths if p.exists()]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write CSV or Parquet (by suffix) to a temporary file, then rename: never half-written."""
    # named with the writing process, so that a concurrent run does not take it for a dead one's
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{os.getpid()}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        if path.suffix.lower() == ".csv":
            write_csv(frame, tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def run_batch(dicom_dir: str | Path, out: str | Path, *, params: ExtractionParameters = ExtractionParameters(),
              work_dir: str | Path | None = None, workers: int | None = None, scheduler: str | None = None,
              memory_limit: str = "1.5GB", overlay_dir: str | Path | None = None, per_patient: str = "all",
              tumour_side: pd.Series | None = None, on_progress: ProgressCallback | None = None) -> BatchResult:
    """Extract every DICOM file under ``dicom_dir`` and write the tables beside ``out``.

    Parameters
    ----------
    dicom_dir : str or Path
        Folder searched recursively.
    out : str or Path
        The per-breast table (``.parquet`` or ``.csv``); beside it ``<stem>.images``,
        ``<stem>.clusters``, ``<stem>.calcifications``, ``<stem>.breasts_detail`` (same format)
        and ``<stem>.provenance.json``.
    params : ExtractionParameters
        Every threshold; recorded in the provenance.
    work_dir : str or Path, optional
        Per-image results (default ``<out>.work/``); kept so that a rerun resumes.
    workers : int, optional
        Start a local Dask cluster with this many single-threaded worker processes.
    scheduler : str, optional
        Address of an existing Dask scheduler (takes precedence over ``workers``).
    memory_limit : str
        Memory limit per local Dask worker.
    overlay_dir : str or Path, optional
        Write a quality-review PNG per image there.
    per_patient : {"all", "tumour", "worst"}
        ``all`` writes one row per breast; ``tumour`` keeps the breast on the tumour's side (from
        ``tumour_side``); ``worst`` keeps each patient's most suspicious breast. The last two write
        one row per patient, as ``data_dictionary/imaging.yaml`` (key ``patient_id``) describes;
        see :mod:`prognosis.imaging.per_patient`.
    tumour_side : Series, optional
        ``L``/``R`` indexed by patient (:func:`prognosis.imaging.per_patient.read_tumour_side`).
    on_progress : callable, optional
        Called as ``on_progress(done, total)`` after each image.

    Returns
    -------
    BatchResult
    """
    if per_patient not in RULES:
        raise ValueError(f"per_patient must be one of {', '.join(RULES)}, not {per_patient!r}")
    if per_patient == "tumour" and tumour_side is None:
        raise ValueError("per_patient='tumour' needs tumour_side (the side of each patient's tumour)")
    dicom_dir = Path(dicom_dir)
    files = find_dicom_files(dicom_dir)
    entries = [(str(p), p.relative_to(dicom_dir).as_posix()) for p in files]
    # every output path checked before any work: nothing of the user's is replaced (output_files.py)
    plan = check_extract_outputs(out, work_dir=work_dir, overlay_dir=overlay_dir, dicom_files=[f for _, f in entries])
    out, work, overlay_dir = plan.out, plan.work_dir, plan.overlay_dir
    remove_stale_work_files(work)          # half-written files of a killed run
    done = {file for _, file in entries if (work / f"{image_key(file)}.image.parquet").exists()}
    todo = [(path, file) for path, file in entries if file not in done]
    logger.info("%d files, %d already done, %d to extract", len(entries), len(done), len(todo))
    total, count = len(entries), len(done)
    if on_progress:
        on_progress(count, total)
    overlay = str(overlay_dir) if overlay_dir is not None else None
    if todo and (workers or scheduler):
        stream = _run_dask(todo, work, params, overlay, workers=workers, scheduler=scheduler, memory_limit=memory_limit)
    else:
        stream = _run_local(todo, work, params, overlay)
    for row in stream:
        count += 1
        if row["status"] != "ok":
            # INFO: every failure is reported once, in the failures table and by the CLI's summary
            logger.info("failed: %s (%s)", row["file"], row.get("error_tag") or "unreadable")
        if on_progress:
            on_progress(count, total)
    keys = [image_key(file) for _, file in entries]
    images = _read_many([work / f"{k}.image.parquet" for k in keys])
    clusters = _read_many([work / f"{k}.clusters.parquet" for k in keys])
    calcifications = _read_many([work / f"{k}.calcifications.parquet" for k in keys])
    if images.empty:
        images = _image_frame(dict.fromkeys(IMAGE_COLUMNS)).iloc[0:0]
    details = combine_breasts(images, params)
    selection = select_breasts(details, per_patient, tumour_side=tumour_side)
    details = details.assign(kept=details.index.isin(selection.breasts.index))   # the rule's choice, visible
    if selection.patients_without_image:
        logger.warning("%d patient(s) of the tumour-side table have no image of that side: %s",
                       len(selection.patients_without_image), ", ".join(selection.patients_without_image[:10]))
    breasts = selection.breasts[list(BREAST_COLUMNS)].reset_index(drop=True)
    if overlay_dir is not None:
        # each overlay was drawn with its own view only: add the breast's call (CC and MLO combined)
        from prognosis.imaging.overlay import stamp_breast_calls
        stamp_breast_calls(overlay_dir, images, details)
    outputs = _write_outputs(plan, breasts, details, images, clusters, calcifications, params, dicom_dir,
                             n_resumed=len(done), selection=selection)
    n_ok = int((images["status"] == "ok").sum()) if len(images) else 0
    return BatchResult(breasts, details.reset_index(drop=True), images, clusters, calcifications, total, n_ok,
                       int(len(images) - n_ok), len(done), selection, outputs)


def _classifier_provenance(params: ExtractionParameters) -> dict:
    """Which classifier made the calls; for the learned one, the training data it was fitted on."""
    if params.classifier != "learned":
        return {"kind": params.classifier}
    from prognosis.imaging.learned import shipped_model
    model = shipped_model()
    return {"kind": "learned", "casting_threshold": params.casting_threshold, "families": list(model.families),
            "n_training_clusters": model.n_clusters, "n_training_breasts": model.n_breasts,
            "training_sha256": model.training_sha256}


def _write_outputs(plan: OutputPlan, breasts, details, images, clusters, calcifications,
                   params: ExtractionParameters, dicom_dir: Path, *, n_resumed: int,
                   selection: BreastSelection) -> dict[str, Path]:
    tables = {"breasts": breasts, "breasts_detail": details, "images": images, "clusters": clusters,
              "calcifications": calcifications,
              "failures": failures_table(images)}
    failed = images[images["status"] != "ok"] if len(images) else images
    provenance = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "prognosis_version": __version__,
        "input": str(dicom_dir),
        "parameters": params.to_dict(),
        "n_images": int(len(images)), "n_ok": int(len(images) - len(failed)), "n_failed": int(len(failed)),
        "failures_table": plan.files["failures"].name,
        "n_resumed": n_resumed, "n_breasts": int(len(details)),
        "per_patient": selection.to_dict(),
        # locations and tags only: no patient values leave through provenance
        "failures": [{"file": f, "tag": (t if isinstance(t, str) else None)}
                     for f, t in zip(failed.get("file", []), failed.get("error_tag", []))],
        "versions": _versions(),
        "classifier": _classifier_provenance(params),
    }
    return write_outputs(plan, tables, provenance)   # with each table's SHA-256, so a rerun knows its own


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version
    found = {}
    for name in ("pydicom", "scikit-image", "scipy", "numpy", "pandas", "pylibjpeg", "pylibjpeg-libjpeg",
                 "pylibjpeg-openjpeg", "dask", "distributed"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found
