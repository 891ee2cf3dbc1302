"""Leaderboard row filters: layer-probe rows in, out, or alone."""

from __future__ import annotations

import pandas as pd
import pytest

from eegbench.leaderboard.report import filter_frame


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "protocol": ["loso"] * 4, "dataset": ["d"] * 4,
        "adaptation": ["from_scratch", "layer_probe:01-conv", "from_scratch", "linear_probe"],
        "config_hash": ["net", "net", "other", "third"],
    })


def test_probe_filters():
    frame = _frame()
    assert len(filter_frame(frame, probes="include")) == 4
    assert filter_frame(frame, probes="exclude")["adaptation"].tolist() == [
        "from_scratch", "from_scratch", "linear_probe"]
    only = filter_frame(frame, probes="only")
    assert only["config_hash"].tolist() == ["net", "net"]  # the probes and their network
    with pytest.raises(ValueError, match="'probes' parameter"):
        filter_frame(frame, probes="some")


def test_empty_store_passes_through():
    assert filter_frame(pd.DataFrame(), probes="exclude").empty
