"""The reader: every bad-DICOM case, photometric, VOI, BitsStored, spacing, compression, tags."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from numpy.testing import assert_allclose
from pydicom.data import get_testdata_file
from pydicom.uid import JPEG2000Lossless, RLELossless

from prognosis.errors import DicomError
from prognosis.imaging.dicom import read_mammogram
from prognosis.imaging.dicom_write import write_mammogram


def _exposure(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:96, 0:80]
    return (2000 * np.exp(-0.02 * xx) + rng.normal(0, 5, (96, 80))).clip(10).astype(np.float32)


def _write(path: Path, **kwargs) -> Path:
    options = dict(spacing_mm=0.1, patient_id="T1", laterality="L", view="CC", intent="FOR PRESENTATION",
                   photometric="MONOCHROME2", spacing_tag="PixelSpacing")
    options.update(kwargs)
    write_mammogram(path, _exposure(), rng=np.random.default_rng(1), **options)
    return path


def test_monochrome1_is_inverted(tmp_path):
    m2 = read_mammogram(_write(tmp_path / "m2.dcm"))
    m1 = read_mammogram(_write(tmp_path / "m1.dcm", photometric="MONOCHROME1"))
    assert_allclose(m1.pixels, m2.pixels, atol=1e-3)
    assert m2.pixels[:, -1].mean() > m2.pixels[:, 0].mean()     # low exposure (dense) is bright


@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
def test_for_processing_is_bright_where_dense(tmp_path, photometric):
    image = read_mammogram(_write(tmp_path / "p.dcm", intent="FOR PROCESSING", photometric=photometric))
    assert image.tags["presentation_intent"] == "FOR PROCESSING"
    assert image.pixels[:, -5:].mean() > image.pixels[:, :5].mean()


def test_non_mg_is_rejected(tmp_path):
    path = _write(tmp_path / "ct.dcm", modality="CT")
    with pytest.raises(DicomError, match="not MG") as info:
        read_mammogram(path)
    assert info.value.tag == "(0008,0060)" and info.value.path == str(path)


def test_multi_frame_is_rejected(tmp_path):
    path = _write(tmp_path / "mf.dcm")
    ds = pydicom.dcmread(path)
    ds.NumberOfFrames = 2
    ds.PixelData = ds.PixelData * 2
    ds.save_as(path)
    with pytest.raises(DicomError, match="frames") as info:
        read_mammogram(path)
    assert info.value.tag == "(0028,0008)"


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupt_file_is_reported(tmp_path, damage):
    path = _write(tmp_path / "c.dcm")
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x00\x13" * 400, "empty": b""}[damage])
    with pytest.raises(DicomError) as info:
        read_mammogram(path)
    assert info.value.path == str(path)


def test_missing_spacing_is_rejected_unless_defaulted(tmp_path):
    path = _write(tmp_path / "s.dcm")
    ds = pydicom.dcmread(path)
    del ds.PixelSpacing
    ds.save_as(path)
    with pytest.raises(DicomError, match="Pixel Spacing") as info:
        read_mammogram(path)
    assert info.value.tag == "(0028,0030)"
    assert read_mammogram(path, default_pixel_spacing_mm=0.07).pixel_spacing_mm == 0.07


def test_imager_spacing_is_corrected_for_magnification(tmp_path):
    path = _write(tmp_path / "mag.dcm")
    ds = pydicom.dcmread(path)
    del ds.PixelSpacing
    ds.ImagerPixelSpacing = ["0.115", "0.115"]
    ds.EstimatedRadiographicMagnificationFactor = "1.15"
    ds.save_as(path)
    image = read_mammogram(path)
    assert image.pixel_spacing_mm == pytest.approx(0.1)
    assert image.tags["spacing_source"].startswith("ImagerPixelSpacing")


def test_bits_stored_masks_unused_high_bits(tmp_path):
    clean = read_mammogram(_write(tmp_path / "clean.dcm"))
    path = _write(tmp_path / "dirty.dcm")
    ds = pydicom.dcmread(path)
    stored = ds.pixel_array | np.uint16(0xF000)       # overlay bits above BitsStored = 12
    ds.PixelData = stored.tobytes()
    ds.save_as(path)
    assert_allclose(read_mammogram(path).pixels, clean.pixels, atol=1e-6)


def test_voi_window_is_applied(tmp_path):
    path = _write(tmp_path / "w.dcm")
    ds = pydicom.dcmread(path)
    ds.WindowCenter, ds.WindowWidth = "3000", "1000"    # only the densest values stay unclipped
    ds.save_as(path)
    pixels = read_mammogram(path).pixels
    assert np.mean(pixels == 0) > 0.3


@pytest.mark.parametrize("syntax", [JPEG2000Lossless, RLELossless])
def test_compressed_equals_uncompressed(tmp_path, syntax):
    path = _write(tmp_path / "u.dcm")
    ds = pydicom.dcmread(path)
    ds.compress(syntax)
    ds.save_as(tmp_path / "c.dcm")
    assert_allclose(read_mammogram(tmp_path / "c.dcm").pixels, read_mammogram(path).pixels, atol=1e-6)


def _as_mammogram(tmp_path: Path, name: str) -> Path:
    ds = pydicom.dcmread(get_testdata_file(name))
    ds.Modality = "MG"
    ds.PixelSpacing = ["0.1", "0.1"]
    ds.ImageLaterality = "R"
    ds.ViewPosition = "MLO"
    ds.save_as(tmp_path / name)
    return tmp_path / name


@pytest.mark.parametrize("name", ["JPGExtended.dcm", "MR_small_jpeg_ls_lossless.dcm", "JPEGLSNearLossless_16.dcm",
                                  "JPEG2000.dcm"])
def test_jpeg_family_decodes_through_pylibjpeg(tmp_path, name):
    # pydicom's bundled test files (JPEG extended 12-bit, JPEG-LS, JPEG 2000), relabelled as MG
    image = read_mammogram(_as_mammogram(tmp_path, name))
    assert image.pixels.ndim == 2 and image.pixels.max() == 1.0
    assert image.tags["laterality"] == "R" and image.tags["view"] == "MLO"


def test_laterality_and_view_fallbacks(tmp_path):
    path = _write(tmp_path / "t.dcm")
    ds = pydicom.dcmread(path)
    del ds.ImageLaterality
    ds.Laterality = "R"
    ds.save_as(path)
    assert read_mammogram(path).tags["laterality"] == "R"
    del ds.Laterality
    del ds.ViewPosition
    ds.SeriesDescription = "LMLO screening"
    ds.save_as(path)
    tags = read_mammogram(path).tags
    assert (tags["laterality"], tags["view"]) == ("L", "MLO")


def test_undecodable_pixel_data_is_reported(tmp_path):
    # pydicom's JPEG-lossy.dcm has a misplaced marker segment that no decoder accepts
    with pytest.raises(DicomError, match="cannot decode") as info:
        read_mammogram(_as_mammogram(tmp_path, "JPEG-lossy.dcm"))
    assert info.value.tag == "(7FE0,0010)"


@pytest.mark.parametrize("function", [None, "LINEAR", "LINEAR_EXACT", "SIGMOID"])
@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
def test_fast_window_and_rescale_equal_pydicom(tmp_path, monkeypatch, function, photometric):
    # read_mammogram's own linear window and identity rescale (no float64 copy of the image)
    # must give exactly what pydicom's apply_modality_lut and apply_voi_lut give
    from prognosis.imaging import dicom

    path = _write(tmp_path / "w.dcm", photometric=photometric)
    ds = pydicom.dcmread(path)
    ds.WindowCenter, ds.WindowWidth = "1500", "1800"
    ds.RescaleSlope, ds.RescaleIntercept = "1", "0"
    if function is not None:
        ds.VOILUTFunction = function
    ds.save_as(path)
    fast = read_mammogram(path).pixels
    monkeypatch.setattr(dicom, "_linear_window", lambda values, ds: None)
    monkeypatch.setattr(dicom, "_float", lambda ds, keyword, default: None)
    np.testing.assert_array_equal(fast, read_mammogram(path).pixels)
