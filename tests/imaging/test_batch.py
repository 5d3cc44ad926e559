"""Batch extraction: bad files skipped and counted, dictionary conformance, kill-and-resume, Dask."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prognosis.cohort import read_table
from prognosis.imaging.batch import run_batch
from prognosis.imaging.dicom_write import write_mammogram

DICTIONARY = Path(__file__).resolve().parents[2] / "data_dictionary" / "imaging.yaml"


def test_per_breast_table_validates(extracted):
    table = read_table("imaging", extracted.outputs["breasts"], DICTIONARY)
    assert len(table.data) == 15
    assert set(table.data["casting"].astype(str)) <= {"yes", "no"}
    for name in ("images", "clusters", "calcifications", "breasts_detail", "provenance", "failures"):
        assert extracted.outputs[name].exists()
    failures = pd.read_csv(extracted.outputs["failures"])
    assert failures.empty and list(failures.columns) == ["file", "tag", "keyword", "error", "reader_messages"]
    provenance = json.loads(extracted.outputs["provenance"].read_text())
    assert provenance["parameters"]["seed_cnr"] == 4.5 and provenance["n_images"] == 30


def test_bad_files_are_counted_and_skipped(phantom_dir, tmp_path):
    folder = tmp_path / "dicom"
    folder.mkdir()
    for name in sorted(os.listdir(phantom_dir))[:4]:
        if name.endswith(".dcm"):
            shutil.copy(phantom_dir / name, folder / name)
    rng = np.random.default_rng(0)
    write_mammogram(folder / "ct.dcm", np.full((64, 64), 100.0), spacing_mm=0.1, patient_id="X", laterality="L",
                    view="CC", rng=rng, modality="CT")
    (folder / "corrupt.dcm").write_bytes(b"DICM" * 50)
    (folder / "notes.txt").write_text("not an image")
    result = run_batch(folder, tmp_path / "out" / "imaging.csv")
    assert result.n_failed == 2 and result.n_ok == result.n_files - 2
    failed = result.images[result.images["status"] == "failed"].set_index("file")
    assert failed.loc["ct.dcm", "error_tag"] == "(0008,0060)"
    assert "corrupt.dcm" in failed.index
    provenance = json.loads(result.outputs["provenance"].read_text())
    assert {f["file"] for f in provenance["failures"]} == {"ct.dcm", "corrupt.dcm"}
    read_table("imaging", result.outputs["breasts"], DICTIONARY)


def test_per_patient_worst_keeps_one_row_per_patient(extracted, phantom_dir, tmp_path):
    result = run_batch(phantom_dir, tmp_path / "w.parquet", work_dir=extracted.outputs["breasts"].with_name("imaging.parquet.work"),
                       per_patient="worst")
    assert result.n_resumed == 30
    assert result.breasts["patient_id"].is_unique


def test_kill_and_resume_loses_and_duplicates_nothing(phantom_dir, extracted, tmp_path):
    out = tmp_path / "imaging.parquet"
    work = tmp_path / "imaging.parquet.work"
    command = [sys.executable, "-m", "prognosis.imaging.cli", "extract", str(phantom_dir), "--out", str(out), "--no-progress"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            done = list(work.glob("*.image.parquet")) if work.exists() else []
            if len(done) >= 4:
                break
            if process.poll() is not None:
                pytest.fail("the extraction finished before it could be killed")
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    n_before = len(list(work.glob("*.image.parquet")))
    assert 4 <= n_before < 30 and not out.exists()
    result = run_batch(phantom_dir, out)
    assert result.n_resumed == n_before
    assert len(result.images) == 30 and result.images["file"].is_unique
    expected = extracted.images.sort_values("file").reset_index(drop=True)
    got = result.images.sort_values("file").reset_index(drop=True)
    pd.testing.assert_series_equal(got["n_calcifications"], expected["n_calcifications"])
    assert len(result.calcifications) == len(extracted.calcifications)
    pd.testing.assert_frame_equal(result.breasts, extracted.breasts)


def _first_images(phantom_dir: Path, folder: Path, n: int) -> list[str]:
    """Copy the first ``n`` phantom images to ``folder``; their names."""
    folder.mkdir()
    names = sorted(name for name in os.listdir(phantom_dir) if name.endswith(".dcm"))[:n]
    for name in names:
        shutil.copy(phantom_dir / name, folder / name)
    return names


def _same_counts(result, extracted, names: list[str]) -> None:
    expected = extracted.images.set_index("file").loc[names, "n_calcifications"].to_numpy()
    got = result.images.set_index("file").loc[names, "n_calcifications"].to_numpy()
    np.testing.assert_array_equal(got, expected)


def test_dask_local_cluster_gives_the_same_tables(phantom_dir, extracted, tmp_path):
    names = _first_images(phantom_dir, tmp_path / "dicom", 6)
    result = run_batch(tmp_path / "dicom", tmp_path / "imaging.parquet", workers=2)
    assert result.n_ok == 6
    _same_counts(result, extracted, names)


def test_existing_scheduler_started_apart(phantom_dir, extracted, tmp_path):
    """``--scheduler ADDRESS``: a scheduler and a worker started as their own processes, as on a cluster."""
    folder = tmp_path / "dicom"
    names = _first_images(phantom_dir, folder, 4)
    scheduler_file = tmp_path / "scheduler.json"
    dask = str(Path(sys.executable).with_name("dask"))
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen([dask, "scheduler", "--scheduler-file", str(scheduler_file), "--port", "0",
                                  "--dashboard-address", ":0"], **quiet)
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        worker = subprocess.Popen([dask, "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1",
                                   "--memory-limit", "1GB", "--no-nanny", "--dashboard-address", ":0"], **quiet)
        address = json.loads(scheduler_file.read_text())["address"]
        from dask.distributed import Client
        with Client(address, timeout=60) as client:
            client.wait_for_workers(1, timeout=60)
        result = run_batch(folder, tmp_path / "imaging.parquet", scheduler=address)
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
    assert result.n_ok == 4
    _same_counts(result, extracted, names)


def _raising_for(name: str, real):
    def extract(path, params, *, file=None, overlay_dir=None):
        if file == name:
            raise RuntimeError("a bug met on this one file")
        return real(path, params, file=file, overlay_dir=overlay_dir)
    return extract


def test_a_file_that_raises_is_recorded_and_not_retried(phantom_dir, tmp_path, monkeypatch):
    # a per-file exception that escapes extract_image (a bug, say) must not stop the batch, and the
    # rerun must report it from its work file instead of meeting it again
    import prognosis.imaging.batch as batch

    names = _first_images(phantom_dir, tmp_path / "dicom", 2)
    real = batch.extract_image
    monkeypatch.setattr(batch, "extract_image", _raising_for(names[0], real))
    out = tmp_path / "imaging.csv"
    result = run_batch(tmp_path / "dicom", out)
    assert (result.n_ok, result.n_failed) == (1, 1)
    failures = pd.read_csv(result.outputs["failures"])
    assert failures["file"].tolist() == [names[0]] and "RuntimeError" in failures["error"].item()
    monkeypatch.setattr(batch, "extract_image", lambda *a, **k: pytest.fail("a done file was extracted again"))
    again = run_batch(tmp_path / "dicom", out)
    assert (again.n_resumed, again.n_failed) == (2, 1)


def test_a_file_that_raises_on_a_dask_worker_is_recorded(phantom_dir, tmp_path, monkeypatch):
    # in-process workers (processes=False) see the patched module; a KilledWorker takes the same path
    from dask.distributed import LocalCluster

    import prognosis.imaging.batch as batch

    names = _first_images(phantom_dir, tmp_path / "dicom", 2)
    monkeypatch.setattr(batch, "extract_image", _raising_for(names[1], batch.extract_image))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        result = run_batch(tmp_path / "dicom", tmp_path / "imaging.parquet", scheduler=cluster.scheduler_address)
    assert (result.n_ok, result.n_failed) == (1, 1)
    failed = result.images.set_index("file").loc[names[1]]
    assert failed["status"] == "failed" and "RuntimeError" in failed["error"]
