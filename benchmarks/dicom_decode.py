"""Reading cost of a full-field mammogram by transfer syntax (prints; not a test).

Run from the repository root: ``python benchmarks/dicom_decode.py [PHANTOM_DIR]``. Takes one
full-field phantom (about 4096 x 3328, written by ``prognosis phantom --full-field`` into
PHANTOM_DIR, or into a temporary folder), re-encodes it losslessly with pydicom's
``Dataset.compress`` (RLE, JPEG-LS via pyjpegls, JPEG 2000 via pylibjpeg-openjpeg) and prints
the median of 3 reads by ``read_mammogram`` (decode + grayscale pipeline), next to the time the
whole extraction of the uncompressed file takes. ``benchmarks/imaging_throughput.py`` measures
uncompressed files: on a compressed archive, add the difference printed here.
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

import pydicom
from pydicom.pixels import get_encoder
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

from prognosis.imaging.dicom import read_mammogram
from prognosis.imaging.extract import extract_image
from prognosis.simulate.phantom import simulate_phantoms


def _median_seconds(action, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = Path(sys.argv[1]) if len(sys.argv) > 1 else tmp / "ph"
        if not list(folder.glob("*.dcm")):
            simulate_phantoms(folder, n=1, seed=11, full_field=True, spacings_mm=(0.07,))
        source = sorted(folder.glob("*.dcm"))[0]
        ds = pydicom.dcmread(source)
        print(f"{source.name}: {ds.Rows} x {ds.Columns}, Bits Stored {ds.BitsStored}, {ds.PhotometricInterpretation}")
        extract_image(source)   # warm up imports
        print(f"  extraction of the uncompressed file: {_median_seconds(lambda: extract_image(source)):.2f} s")
        print(f"  {'uncompressed':<22} read {_median_seconds(lambda: read_mammogram(source)):.2f} s")
        for name, uid in (("RLE lossless", RLELossless), ("JPEG-LS lossless", JPEGLSLossless),
                          ("JPEG 2000 lossless", JPEG2000Lossless)):
            if not get_encoder(uid).is_available:
                print(f"  {name:<22} skipped: no encoder ({', '.join(get_encoder(uid).missing_dependencies)})")
                continue
            copy = pydicom.dcmread(source)
            copy.compress(uid)
            path = tmp / f"{uid.name}.dcm"
            copy.save_as(path)
            size = path.stat().st_size / source.stat().st_size
            print(f"  {name:<22} read {_median_seconds(lambda: read_mammogram(path)):.2f} s  "
                  f"(file {size:.0%} of uncompressed)")


if __name__ == "__main__":
    main()
