"""A MOABB bridge entry is built once and read back on the next load (not rebuilt).

eegmmidb S001 is linked into MNE's eegbci layout and read offline by MOABB's ``PhysionetMI``
(see tests/integration/test_moabb_bridge.py for the layout and the network guard).
"""

from __future__ import annotations

import logging
import socket

import pytest

pytest.importorskip("moabb")

from eegbench.data.bridges.moabb import load_moabb  # noqa: E402
from eegbench.data.standardize import PreprocessSpec  # noqa: E402


@pytest.fixture
def physionet_s001(tmp_path, monkeypatch, data_root):
    """MOABB/MNE paths in tmp holding eegmmidb S001; every network connection refused."""
    def refuse(sock, address):
        raise OSError(f"network disabled in this test ({address})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    root = tmp_path / "mne_data"
    for key in ("MNE_DATA", "MNE_DATASETS_EEGBCI_PATH"):
        monkeypatch.setenv(key, str(root))
    monkeypatch.setenv("MOABB_DOWNLOAD_PROVIDER", "upstream")
    monkeypatch.setenv("_MNE_FAKE_HOME_DIR", str(tmp_path / "home"))
    dst = root / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0" / "S001"
    dst.mkdir(parents=True)
    for edf in sorted((data_root / "physionet_eegmmidb" / "S001").glob("*.edf")):
        (dst / edf.name).symlink_to(edf)
    return root


def _stat(entry):
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted(entry.iterdir())}


def test_second_load_reads_the_entry_without_rebuilding(physionet_s001, tmp_path, caplog):
    spec = PreprocessSpec(sfreq=160.0)
    node = {"dataset": "PhysionetMI", "paradigm": "LeftRightImagery"}
    first = load_moabb(node, spec, tmp_path / "cache", subjects=["1"])
    entry = tmp_path / "cache" / "moabb_PhysionetMI_LeftRightImagery"
    entry = entry / first.info["key"]
    before = _stat(entry)
    assert set(before) == {"X.npy", "meta.csv", "manifest.json"}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="eegbench"):
        again = load_moabb(node, spec, tmp_path / "cache", subjects=["1"])
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "rebuilding" in m or "built" in m], messages
    assert any("using cache entry" in m for m in messages), messages
    assert _stat(entry) == before  # same files (inode), not rewritten (mtime)
    assert again.info["cache_entry"] == first.info["cache_entry"]
    assert (again.X[:] == first.X[:]).all() and again.meta.equals(first.meta)
