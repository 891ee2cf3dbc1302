"""MOABB bridge, offline, on real recordings laid out where MOABB expects them.

- eegmmidb S001 is linked into MNE's eegbci layout (``MNE-eegbci-data/files/eegmmidb/1.0.0``)
  and read by MOABB's own ``PhysionetMI`` with the ``LeftRightImagery`` paradigm.
- The SSVEP exoskeleton recordings: MOABB's ``Kalunga2016`` (formerly ``SSVEPExo``) reads
  Zenodo files ``subjectNN_runR_raw.fif`` with the events in a stim channel (2 to 5 runs per
  subject). The shared copy holds one session per subject, events in a separate ``-eve.fif``.
  The test therefore writes each shared session as a Zenodo-named run (the same samples plus a
  stim channel built from its events file) and reads it with a subclass whose only change is
  that ``data_path`` lists that one run (through MOABB's own ``data_dl``).

Trial counts, labels and onsets are compared with eegbench's own recipes for the same files.
MOABB's paths point into tmp (``MNE_DATA``, ``MNE_DATASETS_*_PATH``), its NEMAR mirror is
switched off (``MOABB_DOWNLOAD_PROVIDER=upstream``) and any network connection fails the test.
"""

from __future__ import annotations

import socket
from collections import Counter
from pathlib import Path

import mne
import numpy as np
import pytest

pytest.importorskip("moabb")

from moabb.datasets import Kalunga2016  # noqa: E402
from moabb.datasets import download as moabb_dl  # noqa: E402
from moabb.datasets.ssvep_exo import SSVEPEXO_URL  # noqa: E402

from eegbench.data.bridges.moabb import load_moabb  # noqa: E402
from eegbench.data.cache import load_windows  # noqa: E402
from eegbench.data.recipe import RecipeError, load_recipe  # noqa: E402
from eegbench.data.standardize import PreprocessSpec  # noqa: E402


class SharedKalunga2016(Kalunga2016):
    """MOABB's Kalunga2016 reading run 1 only (the one session the shared copy holds)."""

    def data_path(self, subject, path=None, force_update=False, update_path=None,
                  verbose=None):
        url = f"{SSVEPEXO_URL}subject{subject:02d}_run1_raw.fif"
        return [moabb_dl.data_dl(url, "SSVEPEXO", path, force_update, verbose)]


@pytest.fixture
def offline_moabb(tmp_path, monkeypatch):
    """MOABB/MNE paths in tmp; record (and refuse) every network connection."""
    attempts: list = []
    original = socket.socket.connect

    def guarded(sock, address):
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "localhost"):
            attempts.append(address)
            raise OSError(f"network disabled in this test ({address})")
        return original(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    root = tmp_path / "mne_data"
    root.mkdir()
    for key in ("MNE_DATA", "MNE_DATASETS_EEGBCI_PATH", "MNE_DATASETS_SSVEPEXO_PATH"):
        monkeypatch.setenv(key, str(root))
    monkeypatch.setenv("MOABB_DOWNLOAD_PROVIDER", "upstream")
    monkeypatch.setenv("_MNE_FAKE_HOME_DIR", str(tmp_path / "home"))  # no ~/.mne writes
    yield root
    assert attempts == [], f"MOABB tried to reach the network: {attempts}"


def _by_run(meta, label_map: dict[str, str]) -> dict[str, list[tuple[float, str]]]:
    out: dict[str, list] = {}
    for key, group in meta.groupby("run", sort=True):  # onsets relative to the run's first
        first = float(group["onset_s"].min())
        out[str(key)] = [(round(float(o) - first, 3), label_map.get(lab, lab)) for o, lab in
                         sorted(zip(group["onset_s"], group["label_name"], strict=True))]
    return out


def test_physionetmi_left_right_matches_the_eegmmidb_recipe(offline_moabb, data_root,
                                                           tmp_path):
    dst = offline_moabb / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0" / "S001"
    dst.mkdir(parents=True)
    for edf in sorted((data_root / "physionet_eegmmidb" / "S001").glob("*.edf")):
        (dst / edf.name).symlink_to(edf)
    spec = PreprocessSpec(sfreq=160.0)
    node = {"dataset": "PhysionetMI", "paradigm": "LeftRightImagery"}
    ds = load_moabb(node, spec, tmp_path / "cache", subjects=["001"])
    ours = load_windows(load_recipe("physionet_eegmmidb_imagery_lr"), data_root, spec,
                        tmp_path / "cache")
    assert ds.classes == ["left_hand", "right_hand"] and set(ds.meta["subject"]) == {"1"}
    assert ds.X.shape == (len(ours.meta), 64, ours.X.shape[-1])
    assert ds.info["units"] == {"eeg": "uV"} and ds.info["sfreq"] == 160.0
    # Same trials, run by run, at the same onsets with the same labels (MOABB numbers the
    # hand runs 0, 1, 2 in the order R04, R08, R12).
    ours_runs = _by_run(ours.meta, {})
    theirs = _by_run(ds.meta, {"left_hand": "left_fist", "right_hand": "right_fist"})
    assert list(theirs.values()) == [ours_runs[r] for r in sorted(ours_runs)]
    # Amplitudes in the same unit (MOABB band-passes 8-32 Hz, eegbench 0.5-45 Hz by default).
    ratio = np.median(np.std(ds.X, axis=-1)) / np.median(np.std(ours.X, axis=-1))
    assert 0.1 < ratio < 1.5
    # Cached like a recipe: a second call reads the entry.
    again = load_moabb(node, spec, tmp_path / "cache", subjects=["1"])
    assert again.info["cache_entry"] == ds.info["cache_entry"]
    with pytest.raises(RecipeError, match=r"subject\(s\) \['200'\] do not exist"):
        load_moabb(node, spec, tmp_path / "cache", subjects=["200"])
    # Selected from the command line: conf/dataset/moabb_physionetmi_lr.yaml through run.py.
    from hydra import compose, initialize_config_dir

    from eegbench.config import build_job
    from eegbench.evaluation.plan import load_dataset
    from eegbench.resources import config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "dataset=moabb_physionetmi_lr", "dataset.subjects=[1]", "preprocess.sfreq=160",
            f"paths.cache_dir={tmp_path / 'cache'}", "model=ts_lr"])
    from_cli = load_dataset(build_job(cfg))
    assert from_cli.classes == ds.classes and len(from_cli.meta) == len(ds.meta)


def _zenodo_run(data_root: Path, subject: str, dest: Path) -> None:
    """The shared session of ``subject`` as MOABB's Zenodo run 1 (samples + stim channel)."""
    folder = data_root / "ssvep_exo_kalunga2016" / f"subject{subject}"
    fif = next(folder.glob("*_raw.fif"))
    raw = mne.io.read_raw_fif(fif, preload=True, verbose="error")
    events = mne.read_events(str(fif).replace("_raw.fif", "-eve.fif"), verbose="error")
    stim = np.zeros(raw.n_times)
    stim[events[:, 0] - raw.first_samp] = events[:, 2]
    trigger = raw.copy().pick([raw.ch_names[0]])  # same measurement info, one channel
    trigger.rename_channels({raw.ch_names[0]: "stim"})
    trigger.set_channel_types({"stim": "stim"}, on_unit_change="ignore")
    trigger.apply_function(lambda _: stim, picks="all")
    raw.add_channels([trigger])
    raw.save(dest / f"subject{subject}_run1_raw.fif", verbose="error")


def test_ssvep_exo_matches_the_ssvep_recipe(offline_moabb, data_root, tmp_path):
    dest = offline_moabb / "MNE-ssvepexo-data" / "zenodo" / "2392979"
    dest.mkdir(parents=True)
    subjects = ["01", "02"]
    for subject in subjects:
        _zenodo_run(data_root, subject, dest)
    spec = PreprocessSpec(sfreq=256.0)
    ds = load_moabb({"dataset": SharedKalunga2016, "paradigm": "SSVEP"}, spec,
                    tmp_path / "cache", subjects=subjects)
    ours = load_windows(load_recipe("ssvep_exo_kalunga2016"), data_root, spec,
                        tmp_path / "cache", subjects=subjects)
    names = {"13": "13Hz", "17": "17Hz", "21": "21Hz", "rest": "rest"}
    assert sorted(ds.classes) == sorted(names)
    assert Counter(zip(ds.meta["subject"].str.zfill(2), ds.meta["label_name"].map(names),
                       strict=True)) == Counter(zip(ours.meta["subject"],
                                                    ours.meta["label_name"], strict=True))
    for subject in subjects:
        theirs = ds.meta[ds.meta["subject"] == str(int(subject))]
        mine = ours.meta[ours.meta["subject"] == subject]
        assert [names[x] for x in theirs["label_name"]] == list(mine["label_name"])
        # Both store the cue time (MOABB's relative to the file's first sample count).
        assert np.allclose(np.diff(theirs["onset_s"]), np.diff(mine["onset_s"]), atol=1 / 256)
    assert ds.X.shape[1:] == ours.X.shape[1:]


def test_unknown_moabb_names_suggest_the_right_one(tmp_path):
    with pytest.raises(RecipeError, match=r"'dataset\.moabb\.dataset' parameter: "
                       r"'PhysionetMl' .* Did you mean 'PhysionetMI'\?"):
        load_moabb({"dataset": "PhysionetMl", "paradigm": "LeftRightImagery"},
                   PreprocessSpec(), tmp_path)
