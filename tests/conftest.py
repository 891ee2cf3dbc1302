"""Shared fixtures: the real recordings in ../shared/data, a synthetic fake dataset that needs
none (tests/fake_dataset.py), and a session-wide window cache."""

from __future__ import annotations

import contextlib
import gc
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = Path(os.environ.get("EEGBENCH_DATA_ROOT", REPO_ROOT.parent / "shared" / "data"))


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Folder with the real public recordings (skip the test if it is absent)."""
    if not DATA_ROOT.is_dir():
        pytest.skip(f"real data folder {DATA_ROOT} not found (set EEGBENCH_DATA_ROOT)")
    return DATA_ROOT


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the whole test session (each dataset is standardized once)."""
    return tmp_path_factory.mktemp("eegbench_cache")


@pytest.fixture(scope="session")
def eegmat(data_root: Path, cache_root: Path):
    """The eegmat windows with the default preprocessing (real data)."""
    from eegbench.data.cache import load_windows
    from eegbench.data.recipe import load_recipe
    from eegbench.data.standardize import PreprocessSpec

    return load_windows(load_recipe("physionet_eegmat"), data_root, PreprocessSpec(), cache_root)


@pytest.fixture(scope="session")
def small_batch(eegmat):
    """Four windows per subject and class of eegmat subjects 00-02, float32 (real data)."""
    import numpy as np

    from eegbench.models import SignalSpec

    rows = []
    for _, group in eegmat.meta[eegmat.meta.subject.isin(["00", "01", "02"])].groupby(
            ["subject", "label"]):
        rows += group.index[:4].tolist()
    idx = np.sort(rows)
    return (np.asarray(eegmat.X[idx], dtype=np.float32), eegmat.y[idx],
            SignalSpec.from_info(eegmat.info, eegmat.X.shape[-1]))


@pytest.fixture(scope="session")
def fake_dataset(tmp_path_factory: pytest.TempPathFactory):
    """A synthetic two-class EDF dataset and its recipe (no real data needed)."""
    from fake_dataset import write_fake_dataset

    return write_fake_dataset(tmp_path_factory.mktemp("fake_dataset"))


@pytest.fixture(scope="session")
def fake_windows(fake_dataset, cache_root: Path):
    """The fake dataset's windows, read by the real recipe, reader and cache."""
    from eegbench.data.cache import load_windows
    from eegbench.data.recipe import load_recipe
    from eegbench.data.standardize import PreprocessSpec

    return load_windows(load_recipe(fake_dataset.recipe_path), fake_dataset.data_root,
                        PreprocessSpec(), cache_root)


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link a real recording into a temp data root (a copy across file systems).

    Symbolic links leaving the data root are refused by the recipe's path confinement.
    """
    import shutil

    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


@contextlib.contextmanager
def read_only_view(folder: Path, tmp_path: Path):
    """Yield a read-only view of ``folder`` (a read-only bind mount as root, who ignores file
    modes; otherwise the folder itself with its write bits removed)."""
    if os.geteuid() != 0:
        paths = [folder, *folder.rglob("*")]
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield folder
        finally:
            for path in paths:
                path.chmod(0o755 if path.is_dir() else 0o644)
        return
    view = Path(tempfile.mkdtemp(prefix="ro_view", dir=tmp_path))
    proc = subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(view)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot make a read-only bind mount: {proc.stderr.strip()}")
    try:
        yield view
    finally:
        gc.collect()
        if subprocess.run(["umount", str(view)]).returncode != 0:
            subprocess.run(["umount", "-l", str(view)], check=True)
