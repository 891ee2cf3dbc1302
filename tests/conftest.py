"""Shared fixtures: the real recordings in ../shared/data and a session-wide window cache."""

from __future__ import annotations

import os
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


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link a real recording into a temp data root (a copy across file systems).

    Symbolic links leaving the data root are refused by the recipe's path confinement.
    """
    import shutil

    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
