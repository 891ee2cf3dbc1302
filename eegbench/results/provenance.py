"""Provenance recorded with every result: git revision, package versions, config hash."""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

_PACKAGES = ("eegbench", "torch", "braindecode", "mne", "numpy", "scipy", "scikit-learn",
             "pyriemann", "pandas", "hydra-core")


@functools.cache
def package_versions() -> dict[str, str]:
    """Return installed versions of the packages that determine results."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


@functools.cache
def git_revision(path: str | None = None) -> str:
    """Return the git commit of the eegbench checkout (``+dirty`` if modified), or ``unknown``."""
    where = Path(path) if path else Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                             text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=where, capture_output=True, text=True, timeout=10).stdout
        return rev + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def config_hash(config: dict[str, Any]) -> str:
    """Return a short stable hash of a (resolved) configuration mapping."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
