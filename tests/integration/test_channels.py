"""Channel harmonization on real data: select/reorder, spherical-spline interpolation, zero-fill."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from eegbench.data.cache import WindowsDataset, load_windows
from eegbench.data.channels import ChannelError, channel_mapping, harmonize
from eegbench.data.recipe import load_recipe
from eegbench.data.standardize import PreprocessSpec


@pytest.fixture(scope="module")
def mmidb(data_root, cache_root) -> WindowsDataset:
    return load_windows(load_recipe("physionet_eegmmidb_imagery_lr"), data_root, PreprocessSpec(),
                        cache_root)


def _without(ds: WindowsDataset, drop: str) -> WindowsDataset:
    keep = [i for i, c in enumerate(ds.info["ch_names"]) if c != drop]
    info = {**ds.info, "ch_names": [ds.info["ch_names"][i] for i in keep],
            "ch_types": [ds.info["ch_types"][i] for i in keep]}
    return WindowsDataset(X=np.asarray(ds.X[:, keep]), meta=ds.meta, info=info)


def test_select_and_reorder_case_insensitive(mmidb):
    out = harmonize(mmidb, ["CZ", "c3", "C4"], policy="error")
    names = mmidb.info["ch_names"]
    np.testing.assert_array_equal(out.X[:, 0], mmidb.X[:, names.index("Cz")])
    np.testing.assert_array_equal(out.X[:, 1], mmidb.X[:, names.index("C3")])
    assert out.info["ch_names"] == ["CZ", "c3", "C4"]
    assert out.info["channel_actions"] == {"CZ": "copy", "c3": "copy", "C4": "copy"}
    assert len(out.meta) == len(out.X) == len(mmidb.X)


def test_interpolated_channel_matches_the_real_one(mmidb):
    """Drop C3, interpolate it back from the 63 others: close to the recorded C3."""
    out = harmonize(_without(mmidb, "C3"), ["C3", "Cz"], policy="interpolate")
    assert out.info["channel_actions"]["C3"] == "interpolate"
    real = np.asarray(mmidb.X[:, mmidb.info["ch_names"].index("C3")]).ravel()
    est = out.X[:, 0].ravel()
    assert np.corrcoef(real, est)[0, 1] > 0.95
    assert np.linalg.norm(real - est) / np.linalg.norm(real) < 0.3


def test_interpolation_equals_mne_interpolate_bads(mmidb):
    ds = _without(mmidb, "C3")
    mapping = channel_mapping(ds.info["ch_names"], ["C3"], "interpolate", ds.info["ch_pos"])
    names = mmidb.info["ch_names"]
    raw = mne.io.RawArray(np.asarray(mmidb.X[0], dtype=float) * 1e-6,
                          mne.create_info(names, mmidb.info["sfreq"], "eeg"), verbose="error")
    raw.set_montage("colin27_1005", verbose="error")
    raw.info["bads"] = ["C3"]
    raw.interpolate_bads(mode="accurate", verbose="error")
    np.testing.assert_allclose(mapping.apply(ds.X[:1])[0, 0], raw.get_data(["C3"])[0] * 1e6,
                               atol=1e-2)


def test_zero_and_error_policies(mmidb):
    out = harmonize(mmidb, ["Cz", "A1"], policy="zero")
    assert out.info["channel_actions"] == {"Cz": "copy", "A1": "zero"}
    assert not out.X[:, 1].any()
    with pytest.raises(ChannelError, match=r"Channel\(s\) \['A1'\] required by the model are "
                       "missing"):
        harmonize(mmidb, ["Cz", "A1"], policy="error")
    with pytest.raises(ChannelError, match="Allowed values are"):
        harmonize(mmidb, ["Cz"], policy="guess")


def test_interpolation_refused_without_positions_or_for_meg(data_root, cache_root):
    eeglab = load_windows(load_recipe("eeglab_tutorial"), data_root, PreprocessSpec(), cache_root)
    with pytest.raises(ChannelError, match="have no position"):
        harmonize(eeglab, ["Cz"], policy="interpolate")
    meg = load_windows(load_recipe("meg_elekta_3ch"), data_root, PreprocessSpec(), cache_root)
    with pytest.raises(ChannelError, match="EEG only"):
        harmonize(meg, ["MEG0111", "MEG0112"], policy="interpolate")
    out = harmonize(meg, ["MEG1622", "MEG0111"], policy="error")
    assert out.info["ch_types"] == ["grad", "mag"]
