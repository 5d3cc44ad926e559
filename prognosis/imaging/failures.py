"""The files an extraction reported and skipped, as the table written beside its outputs."""

from __future__ import annotations

import pandas as pd

from prognosis.imaging.dicom_checks import keyword_of

FAILURE_COLUMNS = ("file", "tag", "keyword", "error", "reader_messages")


def failures_table(images: pd.DataFrame) -> pd.DataFrame:
    """One row per file reported and skipped: the file, the tag at fault and its keyword (empty when the
    file is not DICOM at all or the analysis failed), the error and what pydicom said about the file.

    Written beside the outputs as ``<stem>.failures.csv`` (always CSV: it is read by people), with a
    header even when no file failed.
    """
    if not len(images):
        return pd.DataFrame(columns=list(FAILURE_COLUMNS))
    failed = images[images["status"] != "ok"]
    tags = failed["error_tag"].astype("string") if "error_tag" in failed else pd.Series(pd.NA, index=failed.index)
    keywords = [keyword_of(t) for t in tags]
    messages = failed["reader_messages"] if "reader_messages" in failed else pd.Series(pd.NA, index=failed.index)
    return pd.DataFrame({"file": failed["file"].to_numpy(), "tag": tags.to_numpy(), "keyword": keywords,
                         "error": failed["error"].to_numpy(), "reader_messages": messages.to_numpy()},
                        columns=list(FAILURE_COLUMNS))
