"""Mammographic calcification extractor: DICOM -> breast region -> candidates -> features ->
clusters -> classes -> the per-breast imaging table.

Modules follow the pipeline: :mod:`dicom` (read), :mod:`region`, :mod:`detect`,
:mod:`features`, :mod:`clusters`, :mod:`classify`, :mod:`extract` (one image), :mod:`batch`
(a folder, resumable, Dask), :mod:`overlay`, :mod:`evaluate` (FROC and confusion against
phantom truth), :mod:`params` (every threshold) and :mod:`cli` (``prognosis extract`` and
``prognosis phantom``). Import from the submodules.
"""
