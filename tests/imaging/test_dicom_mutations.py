"""Mutants of one valid phantom mammogram: each is reported with its tag and skipped; the batch goes on.

Issue 9, defect 13: a file cut 4 bytes before its pixel data raised ``struct.error`` and an
IS of ``inf`` in Number of Frames raised ``OverflowError``; either stopped the whole batch, on
every rerun. Here a folder holds the good file and every mutant: ``prognosis extract`` (a real
process, with the CLI's own logging on a real stderr) must exit 0, keep the good file's row,
name each mutant with its tag in ``<stem>.failures.csv``, print no traceback and none of
pydicom's own warnings, and do the same again on a rerun. The per-image API must raise a
DicomError with the same tag for each mutant.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pydicom
import pytest

from prognosis.errors import DicomError
from prognosis.imaging.dicom import read_mammogram

PIXEL_DATA = b"\xe0\x7f\x10\x00"          # (7FE0,0010), little endian
ROWS_US = b"\x28\x00\x10\x00US\x02\x00"   # (0028,0010) US, length 2: the value follows

# mutant name -> the tag its failure must name (None: not DICOM at all, there is no tag)
EXPECTED_TAG = {
    "cut_in_file_meta.dcm": "(0002,0000)",
    "cut_in_rows.dcm": "(0028,0010)",
    "cut_4_bytes_before_pixel_data.dcm": "(7FE0,0010)",
    "cut_in_pixel_data.dcm": "(7FE0,0010)",
    "cut_last_byte.dcm": "(7FE0,0010)",
    "frames_inf.dcm": "(0028,0008)",
    "frames_minus_1.dcm": "(0028,0008)",
    "frames_1e9.dcm": "(0028,0008)",
    "frames_abc.dcm": "(0028,0008)",
    "rows_0.dcm": "(0028,0010)",
    "columns_0.dcm": "(0028,0011)",
    "rows_huge.dcm": "(0028,0010)",
    "bits_allocated_7.dcm": "(0028,0100)",
    "bits_allocated_64.dcm": "(0028,0100)",
    "pixel_spacing_0.dcm": "(0028,0030)",
    "pixel_spacing_nan.dcm": "(0028,0030)",
    "pixel_spacing_negative.dcm": "(0028,0030)",
    "samples_per_pixel_3.dcm": "(0028,0002)",
    "no_pixel_data.dcm": "(7FE0,0010)",
    "wrong_transfer_syntax.dcm": "(7FE0,0010)",
    "not_dicom.dcm": None,
    "empty.dcm": None,
}


def _patched(good: Path, target: Path, keyword: str, placeholder: str, bad: str) -> None:
    """Write ``bad`` over a tag's value in the file's bytes (pydicom refuses to write it)."""
    ds = pydicom.dcmread(good)
    setattr(ds, keyword, placeholder)
    ds.save_as(target)
    data = target.read_bytes()
    assert data.count(placeholder.encode()) == 1
    target.write_bytes(data.replace(placeholder.encode(), bad.ljust(len(placeholder)).encode()))


def _changed(good: Path, target: Path, **values) -> None:
    ds = pydicom.dcmread(good)
    for keyword, value in values.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.save_as(target)


def write_mutants(good: Path, folder: Path) -> dict[str, str | None]:
    """Write every mutant of ``good`` into ``folder``; returns :data:`EXPECTED_TAG`."""
    data = good.read_bytes()
    pixel_tag = data.rindex(PIXEL_DATA)
    pixel_value = pixel_tag + 12                 # explicit VR OW: tag 4, VR 2, reserved 2, length 4
    rows_value = data.index(ROWS_US) + len(ROWS_US)
    cuts = {"cut_in_file_meta.dcm": 140, "cut_in_rows.dcm": rows_value + 1,
            "cut_4_bytes_before_pixel_data.dcm": pixel_value - 4,
            "cut_in_pixel_data.dcm": (pixel_value + len(data)) // 2, "cut_last_byte.dcm": len(data) - 1}
    for name, size in cuts.items():
        (folder / name).write_bytes(data[:size])
    for name, bad in (("frames_inf.dcm", "inf"), ("frames_minus_1.dcm", "-1"), ("frames_1e9.dcm", "1e9"),
                      ("frames_abc.dcm", "abc")):
        _patched(good, folder / name, "NumberOfFrames", "77777", bad)
    for name, bad in (("pixel_spacing_0.dcm", "0\\0"), ("pixel_spacing_nan.dcm", "nan\\nan"),
                      ("pixel_spacing_negative.dcm", "-0.05\\-0.05")):
        _patched(good, folder / name, "PixelSpacing", "7.77777\\7.77777", bad)
    _changed(good, folder / "rows_0.dcm", Rows=0)
    _changed(good, folder / "columns_0.dcm", Columns=0)
    _changed(good, folder / "rows_huge.dcm", Rows=65535)
    _changed(good, folder / "bits_allocated_7.dcm", BitsAllocated=7)
    _changed(good, folder / "bits_allocated_64.dcm", BitsAllocated=64)
    _changed(good, folder / "samples_per_pixel_3.dcm", SamplesPerPixel=3)
    _changed(good, folder / "no_pixel_data.dcm", PixelData=None)
    # RLE Lossless announced, native pixels stored: same length, so the File Meta Information is intact
    explicit, rle = b"1.2.840.10008.1.2.1\x00", b"1.2.840.10008.1.2.5\x00"
    assert data.count(explicit) == 1
    (folder / "wrong_transfer_syntax.dcm").write_bytes(data.replace(explicit, rle))
    (folder / "not_dicom.dcm").write_text("patient_id,laterality\nP1,L\n" * 40)
    (folder / "empty.dcm").write_bytes(b"")
    assert sorted(os.listdir(folder)) >= sorted(EXPECTED_TAG)
    return dict(EXPECTED_TAG)


@pytest.fixture(scope="module")
def good_file(phantom_dir) -> Path:
    return sorted(phantom_dir.glob("*.dcm"))[0]


@pytest.fixture(scope="module")
def mutants(good_file, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("mutants")
    write_mutants(good_file, folder)
    return folder


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", sorted(EXPECTED_TAG))
def test_read_mammogram_raises_a_dicom_error_naming_the_tag(mutants, name):
    path = mutants / name
    with pytest.raises(DicomError) as info:
        read_mammogram(path)
    assert info.value.path == str(path)
    assert info.value.tag == EXPECTED_TAG[name], str(info.value)
    if info.value.tag is not None:
        assert info.value.tag in str(info.value)          # the message names it too


def test_the_good_file_reads(good_file):
    ds = pydicom.dcmread(good_file)
    assert read_mammogram(good_file).pixels.shape == (ds.Rows, ds.Columns)


def _extract(folder: Path, out: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "prognosis.imaging.cli", "extract", str(folder), "--out", str(out),
               "--no-progress"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_extract_reports_every_mutant_and_keeps_the_good_file(good_file, mutants, tmp_path):
    folder = tmp_path / "dicom"
    shutil.copytree(mutants, folder)
    shutil.copy(good_file, folder / good_file.name)
    out = tmp_path / "out" / "imaging.csv"
    for run in ("first", "rerun"):
        done = _extract(folder, out)
        # 0: the tables are complete for the good file; the skipped ones are reported (imaging/cli.py)
        assert done.returncode == 0, (run, done.stderr)
        assert "Traceback" not in done.stderr and "struct.error" not in done.stderr, done.stderr
        # pydicom's own warnings ("Invalid value for VR IS") are in the report, not on the terminal
        assert "Invalid value for VR" not in done.stderr and "pydicom" not in done.stderr, done.stderr
        assert f"{len(EXPECTED_TAG)} file(s) skipped" in done.stderr
        failures = pd.read_csv(out.with_name("imaging.failures.csv"), dtype="string", keep_default_na=False)
        assert sorted(failures["file"]) == sorted(EXPECTED_TAG), run
        got = dict(zip(failures["file"], failures["tag"]))
        assert got == {name: tag or "" for name, tag in EXPECTED_TAG.items()}, run
        assert failures.set_index("file").loc["rows_0.dcm", "keyword"] == "Rows"
        assert "Invalid value for VR IS" in failures.set_index("file").loc["frames_abc.dcm", "reader_messages"]
        assert "'abc'" not in " ".join(failures["reader_messages"])     # the value is not repeated
        breasts = pd.read_csv(out)
        good_id = pydicom.dcmread(good_file).PatientID
        assert list(breasts["patient_id"]) == [good_id]
    provenance = pd.read_json(out.with_name("imaging.provenance.json"), typ="series")
    assert provenance["n_failed"] == len(EXPECTED_TAG) and provenance["n_ok"] == 1
    assert provenance["n_resumed"] == len(EXPECTED_TAG) + 1          # the rerun read nothing again
    assert provenance["failures_table"] == "imaging.failures.csv"


def _small_file(folder: Path) -> bytes:
    import numpy as np

    from prognosis.imaging.dicom_write import write_mammogram

    rng = np.random.default_rng(0)
    exposure = rng.uniform(500, 2000, (40, 32)).astype(np.float32)
    path = folder / "small.dcm"
    write_mammogram(path, exposure, spacing_mm=0.1, patient_id="F1", laterality="L", view="CC", rng=rng,
                    intent="FOR PRESENTATION", photometric="MONOCHROME2", spacing_tag="PixelSpacing")
    return path.read_bytes()


def test_random_header_damage_is_an_image_or_a_dicom_error(tmp_path):
    # a few random bytes overwritten in the header (file meta to the Pixel Data length) or the file
    # cut anywhere: never another exception. 3,000 such cases found none (see the report of issue 9)
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    data = _small_file(tmp_path)
    header_end = data.rindex(PIXEL_DATA) + 12
    target = tmp_path / "damaged.dcm"

    @settings(max_examples=300, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.tuples(st.integers(128, header_end - 1), st.integers(0, 255)), min_size=1, max_size=3),
           st.one_of(st.none(), st.integers(0, len(data))))
    def check(changes, cut):
        damaged = bytearray(data)
        for offset, value in changes:
            damaged[offset] = value
        target.write_bytes(bytes(damaged[:cut]))
        try:
            read_mammogram(target)
        except DicomError as exc:
            assert exc.path == str(target)

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check()
