"""A code change never reuses a result; a docstring or comment change does (real eegmat data).

A copy of the test plugin (tests/plugin_pkg) whose factory builds its activation through a
helper module is run leave-one-subject-out on 4 real eegmat subjects with ``trainer=fast``.
Editing the helper (ELU -> ReLU, the case the factory-only fingerprint missed) recomputes every
fold; rewording its docstring and comments does not; another library version does.
"""

from __future__ import annotations

import importlib
import json
import logging
import shutil
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from eegbench.registry import _Entry
from eegbench.resources import config_dir

REPO = Path(__file__).resolve().parents[2]
NAME = "fp_dummy_plugin"

LAYERS = '''"""Layers of the dummy plugin."""
from torch import nn


def activation() -> nn.Module:
    """The encoder's non-linearity."""
    return nn.ELU()
'''

LAYERS_REWORDED = '''"""Layers of the dummy plugin, documented at more length.

The factory imports this module; only its code counts.
"""
from torch import nn  # torch's modules


def activation() -> nn.Module:
    """The encoder's non-linearity (an exponential linear unit)."""
    # ELU, as in the original TinyConvNet
    return nn.ELU()
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """The copied plugin on sys.path, registered as ``fp_dummy_plugin``."""
    from eegbench.models.base import MODELS

    package = tmp_path / "site" / NAME
    shutil.copytree(REPO / "tests" / "plugin_pkg" / "eegbench_dummy_plugin", package)
    init = package / "__init__.py"
    source = init.read_text()
    assert "nn.ELU()" in source
    init.write_text(source.replace("from torch import nn\n",
                                   f"from torch import nn\n\nfrom {NAME}.layers import "
                                   "activation\n").replace("nn.ELU()", "activation()"))
    (package / "layers.py").write_text(LAYERS)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    module = importlib.import_module(NAME)
    MODELS.names()  # discover the entry points first, then add the copy
    monkeypatch.setitem(MODELS._entries, NAME, _Entry("test copy of tests/plugin_pkg",
                                                      obj=module.TinyConvNet, loaded=True))
    yield package
    for name in [n for n in sys.modules if n == NAME or n.startswith(f"{NAME}.")]:
        del sys.modules[name]


def _cfg(tmp_path, data_root, cache_root):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=[
            "model=plugin", f"model.name={NAME}", "trainer=fast", "trainer.num_threads=1",
            "dataset.subjects=[00,01,02,03]", "protocol.n_valid_subjects=1",
            f"paths.data_root={data_root}", f"paths.cache_dir={cache_root}",
            f"paths.runs_dir={tmp_path / 'runs'}"])


def _run(cfg, caplog) -> str:
    from eegbench.evaluation.job import run_experiment

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="eegbench"):
        run_experiment(cfg)
    return caplog.text


def _reload(package: Path) -> None:
    importlib.reload(sys.modules[f"{NAME}.layers"])
    importlib.reload(sys.modules[NAME])


def test_plugin_helper_change_recomputes_and_docstring_change_does_not(
        plugin, tmp_path, data_root, cache_root, caplog, monkeypatch):
    from eegbench import code_fingerprint
    from eegbench.evaluation.identity import model_code_identity
    from eegbench.models.base import MODELS

    cfg = _cfg(tmp_path, data_root, cache_root)
    assert "4 new fold(s), 0 skipped" in _run(cfg, caplog)
    identity = model_code_identity(NAME)
    assert {f"{NAME}.layers", NAME, "eegbench.training.loop", "eegbench.evaluation.job",
            "eegbench.models.torch_model"} <= set(identity.modules)

    # docstrings and comments only: the same code, nothing recomputed
    (plugin / "layers.py").write_text(LAYERS_REWORDED)
    _reload(plugin)
    assert "0 new fold(s), 4 skipped" in _run(cfg, caplog)

    # ELU -> ReLU in the helper module the factory imports: every fold recomputed
    (plugin / "layers.py").write_text(LAYERS_REWORDED.replace("nn.ELU()", "nn.ReLU()"))
    _reload(plugin)
    MODELS._entries[NAME].obj = sys.modules[NAME].TinyConvNet
    assert "4 new fold(s), 0 skipped" in _run(cfg, caplog)
    rows = [json.loads(p.read_text())
            for p in (tmp_path / "runs" / "default" / "results" / "rows").glob("[!.]*.json")]
    assert len({r["code_fingerprint"] for r in rows}) == 2 and len(rows) == 8

    # another version of a numerical library: a new key, every fold recomputed
    real = code_fingerprint.installed_version
    monkeypatch.setattr(code_fingerprint, "installed_version",
                        lambda name: "0.0.0-other" if name == "braindecode" else real(name))
    assert "4 new fold(s), 0 skipped" in _run(cfg, caplog)


RUN_AND_LIST = """
import json, sys
from hydra import compose, initialize_config_dir
from eegbench.resources import config_dir
from eegbench.evaluation.job import run_experiment
from eegbench.evaluation.identity import model_code_identity
with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
    cfg = compose("config", overrides=sys.argv[1:])
run_experiment(cfg)
ran = sorted(m for m, mod in list(sys.modules.items())  # namespace packages hold no code
             if (m == "eegbench" or m.startswith("eegbench.")) and getattr(mod, "__file__", None))
print(json.dumps({"ran": ran, "fingerprinted": sorted(model_code_identity("eegnet").modules)}))
"""


@pytest.mark.slow
def test_every_eegbench_module_a_deep_model_run_imports_is_fingerprinted(tmp_path, data_root,
                                                                         cache_root):
    """In a fresh process, a deep-model job imports only modules its code fingerprint covers
    (eegbench.training.loop, the training loop, among them)."""
    import os
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST, "model=eegnet", "trainer=fast",
         "trainer.max_epochs=1", "trainer.num_threads=1", "dataset.subjects=[00,01,02]",
         "protocol.n_valid_subjects=1", f"paths.data_root={data_root}",
         f"paths.cache_dir={cache_root}", f"paths.runs_dir={tmp_path / 'runs'}"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    listed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "eegbench.training.loop" in listed["fingerprinted"]
    assert set(listed["ran"]) - set(listed["fingerprinted"]) == set()
