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
    from prognosis.imaging import grayscale

    path = _write(tmp_path / "w.dcm", photometric=photometric)
    ds = pydicom.dcmread(path)
    ds.WindowCenter, ds.WindowWidth = "1500", "1800"
    ds.RescaleSlope, ds.RescaleIntercept = "1", "0"
    if function is not None:
        ds.VOILUTFunction = function
    ds.save_as(path)
    fast = read_mammogram(path).pixels
    monkeypatch.setattr(grayscale, "_linear_window", lambda values, ds: None)
    monkeypatch.setattr(grayscale, "_float", lambda ds, keyword, default: None)
    np.testing.assert_array_equal(fast, read_mammogram(path).pixels)


# --- Presentation LUT Shape (2050,0020) -------------------------------------------------------

def _unwindowed(tmp_path: Path, photometric: str, shape: str | None) -> tuple[Path, np.ndarray]:
    """The same stored pixels under another Photometric Interpretation / Presentation LUT Shape.

    Without a window the pipeline is the identity up to the Presentation LUT, so the expected
    output follows from the stored values alone.
    """
    path = _write(tmp_path / "base.dcm")
    ds = pydicom.dcmread(path)
    del ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction
    ds.PhotometricInterpretation = photometric
    if shape is None:
        del ds.PresentationLUTShape
    else:
        ds.PresentationLUTShape = shape
    out = tmp_path / f"{photometric}_{shape}.dcm"
    ds.save_as(out)
    return out, ds.pixel_array.astype(np.float64)


# (Photometric Interpretation, Presentation LUT Shape) -> minimum shown white? MONOCHROME1 means
# min = white (PS3.3 C.7.6.3.1.2); INVERSE means P = max - value (C.11.6.1.2); in the DX/MG
# image the shape "accounts for" MONOCHROME1 (C.8.11.3), so MONOCHROME1 + INVERSE inverts once
@pytest.mark.parametrize("photometric, shape, min_white", [
    ("MONOCHROME2", None, False), ("MONOCHROME2", "IDENTITY", False), ("MONOCHROME2", "INVERSE", True),
    ("MONOCHROME1", None, True), ("MONOCHROME1", "INVERSE", True), ("MONOCHROME1", "IDENTITY", True)])
def test_presentation_lut_shape_and_photometric_combine(tmp_path, photometric, shape, min_white):
    path, stored = _unwindowed(tmp_path, photometric, shape)
    image = read_mammogram(path)
    low, high = stored.min(), stored.max()
    # output convention: bright = dense = what the display shows white
    expected = (high - stored) / (high - low) if min_white else (stored - low) / (high - low)
    assert_allclose(image.pixels, expected, atol=1e-6)
    assert image.tags["presentation_lut_shape"] == (shape or "")


def test_presentation_lut_comes_after_the_window(tmp_path):
    # PS3.4 N.2: VOI window first, then the Presentation LUT. The window clips stored values
    # below 2500 to its minimum; INVERSE then shows that clipped floor white (1.0).
    path = _write(tmp_path / "w.dcm")
    ds = pydicom.dcmread(path)
    ds.WindowCenter, ds.WindowWidth = "3000", "1000"
    ds.save_as(path)
    identity = read_mammogram(path).pixels
    ds.PresentationLUTShape = "INVERSE"
    ds.save_as(path)
    inverse = read_mammogram(path).pixels
    clipped = ds.pixel_array <= 2500
    assert clipped.mean() > 0.3
    assert np.all(identity[clipped] == 0) and np.all(inverse[clipped] == 1)
    assert_allclose(inverse, 1 - identity, atol=1e-6)


# --- Pixel Padding Value (0028,0120) / Range Limit (0028,0121) --------------------------------

def _frame(shape: tuple[int, int], width: int = 6) -> np.ndarray:
    """A collimation border on three sides, away from the chest wall (column 0)."""
    frame = np.zeros(shape, bool)
    frame[:width], frame[-width:], frame[:, -width:] = True, True, True
    return frame


@pytest.mark.parametrize("padding_value", [4095, 4050])
def test_padding_is_masked_and_left_out_of_scaling(tmp_path, padding_value):
    # stored values of this image are 0..4000: a white padding (M2) above them would otherwise
    # be the densest thing in the image and squeeze the breast's range
    frame = _frame((96, 80))
    path = _write(tmp_path / "p.dcm", padding=frame, padding_value=padding_value)
    ds = pydicom.dcmread(path)
    del ds.WindowCenter, ds.WindowWidth       # identity pipeline: the expectation is plain arithmetic
    ds.save_as(path)
    stored = ds.pixel_array.astype(np.float64)
    image = read_mammogram(path)
    np.testing.assert_array_equal(image.padding, frame)
    assert image.tags["n_padding"] == frame.sum()
    inside = stored[~frame]
    assert_allclose(image.pixels[~frame], (inside - inside.min()) / (inside.max() - inside.min()), atol=1e-6)
    assert np.all(image.pixels[frame] == 0)                  # padding is never tissue
    del ds.PixelPaddingValue
    ds.save_as(path)
    unaware = read_mammogram(path)
    assert unaware.padding is None and np.all(unaware.pixels[frame] == 1)


@pytest.mark.parametrize("value, limit", [(4001, 4095), (4095, 4001)])
def test_padding_range_limit_marks_every_value_between(tmp_path, value, limit):
    frame = _frame((96, 80))
    path = _write(tmp_path / "r.dcm")
    ds = pydicom.dcmread(path)
    stored = ds.pixel_array.copy()
    stored[frame] = np.random.default_rng(3).integers(4001, 4096, frame.sum())
    ds.PixelData = stored.tobytes()
    ds.add_new(0x00280120, "US", value)                 # Pixel Padding Value
    ds.add_new(0x00280121, "US", limit)                 # Pixel Padding Range Limit
    ds.save_as(path)
    image = read_mammogram(path)
    np.testing.assert_array_equal(image.padding, frame)
    assert image.pixels[~frame].max() == 1 and image.pixels[~frame].min() == 0


def test_padding_over_the_whole_image_is_blank(tmp_path):
    path = _write(tmp_path / "b.dcm", padding=np.ones((96, 80), bool))
    with pytest.raises(DicomError, match="blank") as info:
        read_mammogram(path)
    assert info.value.tag == "(7FE0,0010)"


def _phantom_exposure(seed: int, cls: str = "crushed_stone") -> np.ndarray:
    """A 512 x 400 (0.1 mm) CC view from the phantom renderer, with calcifications of ``cls``."""
    from prognosis.simulate.lesions import PhantomParameters, make_lesion
    from prognosis.simulate.phantom_view import render_view

    rng = np.random.default_rng(seed)
    lesion = make_lesion(cls, 34.0, 21.0, rng, PhantomParameters())
    return render_view(lesion, view="CC", laterality="L", spacing_mm=0.1, field_mm=(51.2, 40.0),
                       breast_depth_mm=34.0, breast_half_height_mm=21.0, rng=rng).exposure


@pytest.mark.parametrize("intent, photometric, padding_value", [
    ("FOR PRESENTATION", "MONOCHROME2", 4095),     # white padding: would be the densest thing
    ("FOR PROCESSING", "MONOCHROME1", 0)])         # no exposure: brightest after log and inversion
def test_padding_does_not_change_extraction(tmp_path, intent, photometric, padding_value):
    from prognosis.imaging.extract import extract_image

    exposure = _phantom_exposure(5)
    air = exposure > 0.7 * np.percentile(exposure, 99)
    padding = _frame(exposure.shape, 25) & air                  # collimated border, outside the breast
    options = dict(spacing_mm=0.1, patient_id="P", laterality="L", view="CC", intent=intent,
                   photometric=photometric, spacing_tag="PixelSpacing")
    write_mammogram(tmp_path / "plain.dcm", exposure, rng=np.random.default_rng(0), **options)
    write_mammogram(tmp_path / "padded.dcm", exposure, rng=np.random.default_rng(0), padding=padding,
                    padding_value=padding_value, **options)
    plain = extract_image(tmp_path / "plain.dcm").image
    padded = extract_image(tmp_path / "padded.dcm").image
    assert plain["n_calcifications"] > 0
    for column in ("n_calcifications", "n_clusters", "breast_area_mm2", "calcification_class"):
        assert padded[column] == plain[column], column
    # the same file read as if the padding were image data: the extraction goes wrong
    ds = pydicom.dcmread(tmp_path / "padded.dcm")
    del ds.PixelPaddingValue
    ds.save_as(tmp_path / "unaware.dcm")
    unaware = extract_image(tmp_path / "unaware.dcm").image
    assert (unaware["n_calcifications"], unaware["breast_area_mm2"]) != (plain["n_calcifications"], plain["breast_area_mm2"])


# --- the rest of the reader -------------------------------------------------------------------

def test_pixel_spacing_equal_to_imager_spacing_is_at_the_detector(tmp_path):
    # PS3.3 10.7.1.1: a Pixel Spacing equal to Imager Pixel Spacing was not corrected for
    # magnification, so the Estimated Radiographic Magnification Factor still applies
    path = _write(tmp_path / "s.dcm")
    ds = pydicom.dcmread(path)
    ds.PixelSpacing = ds.ImagerPixelSpacing = ["0.108", "0.108"]
    ds.EstimatedRadiographicMagnificationFactor = "1.08"
    ds.save_as(path)
    image = read_mammogram(path)
    assert image.pixel_spacing_mm == pytest.approx(0.1)
    assert image.tags["spacing_source"] == "PixelSpacing/EstimatedRadiographicMagnificationFactor"
    ds.PixelSpacing = ["0.1", "0.1"]                 # differs: calibrated to the breast already
    ds.save_as(path)
    assert read_mammogram(path).pixel_spacing_mm == pytest.approx(0.1)
    ds.PixelSpacing = ["0.108", "0.108"]
    ds.PixelSpacingCalibrationType = "GEOMETRY"     # says calibrated: taken as it is
    ds.save_as(path)
    assert read_mammogram(path).pixel_spacing_mm == pytest.approx(0.108)


@pytest.mark.parametrize("relationship, sign, logged", [("LIN", 1, True), ("LOG", 1, False),
                                                         ("LIN", -1, False), (None, None, True)])
def test_for_processing_log_follows_pixel_intensity_relationship(tmp_path, relationship, sign, logged):
    path = _write(tmp_path / "p.dcm", intent="FOR PROCESSING", photometric="MONOCHROME1")
    ds = pydicom.dcmread(path)
    for keyword, value in (("PixelIntensityRelationship", relationship), ("PixelIntensityRelationshipSign", sign)):
        if value is None:
            del ds[keyword]
        else:
            setattr(ds, keyword, value)
    ds.save_as(path)
    stored = ds.pixel_array.astype(np.float64)
    # MONOCHROME1: the display shows the minimum white, so bright = high - value (after the log)
    values = np.log1p(stored) if logged else stored
    expected = (values.max() - values) / (values.max() - values.min())
    assert_allclose(read_mammogram(path).pixels, expected, atol=1e-5)


def _patch_value(path: Path, keyword: str, placeholder: str, bad: str) -> None:
    """Write ``bad`` over a tag's value in the file's bytes (pydicom refuses to write it)."""
    ds = pydicom.dcmread(path)
    setattr(ds, keyword, placeholder)
    ds.save_as(path)
    data = path.read_bytes()
    assert data.count(placeholder.encode()) == 1
    path.write_bytes(data.replace(placeholder.encode(), bad.ljust(len(placeholder)).encode()))


@pytest.mark.filterwarnings("ignore:Invalid value for VR")
@pytest.mark.parametrize("keyword, tag", [
    ("EstimatedRadiographicMagnificationFactor", "(0018,1114)"), ("NumberOfFrames", "(0028,0008)"),
    ("RescaleSlope", "(0028,1053)"), ("RescaleIntercept", "(0028,1052)"), ("WindowCenter", "(0028,1050)"),
    ("WindowWidth", "(0028,1051)")])
def test_malformed_numeric_tag_is_a_dicom_error(tmp_path, keyword, tag):
    # these used to escape as ValueError / TypeError, which extract_image does not catch: one bad
    # header would have stopped the whole batch
    from prognosis.imaging.extract import extract_image

    path = _write(tmp_path / "m.dcm")
    _patch_value(path, keyword, "77777" if keyword == "NumberOfFrames" else "7.77777", "abc")
    with pytest.raises(DicomError, match="not numeric") as info:
        read_mammogram(path)
    assert info.value.tag == tag
    result = extract_image(path)
    assert result.image["status"] == "failed" and result.image["error_tag"] == tag


def _without_window(path: Path) -> pydicom.Dataset:
    ds = pydicom.dcmread(path)
    del ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction
    return ds


def test_voi_lut_sequence_is_applied(tmp_path):
    # PS3.3 C.11.2.1.1: output = LUT Data[stored - first mapped]; a square-root LUT here
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    path = _write(tmp_path / "v.dcm")
    ds = _without_window(path)
    lut = np.round(65535 * np.sqrt(np.arange(4096) / 4095)).astype(np.uint16)
    item = Dataset()
    item.add_new(0x00283002, "US", [4096, 0, 16])           # LUT Descriptor
    item.add_new(0x00283006, "US", lut.tolist())            # LUT Data
    ds.VOILUTSequence = Sequence([item])
    ds.save_as(path)
    mapped = lut[ds.pixel_array].astype(np.float64)
    expected = (mapped - mapped.min()) / (mapped.max() - mapped.min())
    assert_allclose(read_mammogram(path).pixels, expected, atol=1e-6)


def test_negative_rescale_slope_flips_before_display(tmp_path):
    # Modality LUT first (C.11.1): with slope -1 the highest stored value is the lowest output,
    # which MONOCHROME2 shows black
    path = _write(tmp_path / "r.dcm")
    ds = _without_window(path)
    ds.RescaleSlope, ds.RescaleIntercept = "-1", "4095"
    ds.save_as(path)
    stored = ds.pixel_array.astype(np.float64)
    expected = (stored.max() - stored) / (stored.max() - stored.min())
    assert_allclose(read_mammogram(path).pixels, expected, atol=1e-6)


def test_presentation_intent_falls_back_to_the_sop_class(tmp_path):
    path = _write(tmp_path / "i.dcm", intent="FOR PROCESSING", photometric="MONOCHROME1")
    logged = read_mammogram(path).pixels
    ds = pydicom.dcmread(path)
    del ds.PresentationIntentType                  # Type 1, but the SOP Class says it too
    ds.save_as(path)
    image = read_mammogram(path)
    assert image.tags["presentation_intent"] == "FOR PROCESSING"
    np.testing.assert_array_equal(image.pixels, logged)


def test_non_square_pixels_are_logged(tmp_path, caplog):
    path = _write(tmp_path / "a.dcm")
    ds = pydicom.dcmread(path)
    ds.PixelSpacing = ["0.1", "0.12"]
    ds.save_as(path)
    with caplog.at_level("WARNING", logger="prognosis.imaging.dicom"):
        image = read_mammogram(path)
    assert image.pixel_spacing_mm == pytest.approx(0.11)
    assert "not square" in caplog.text
