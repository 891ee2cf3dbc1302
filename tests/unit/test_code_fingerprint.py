"""The code fingerprint: every module reachable from the entries, hashed without docstrings.

A temporary package stands for eegbench or a plugin: its entry module imports a helper at
function level, the helper imports a second one relatively. Changing code anywhere in that
closure changes the fingerprint; editing a docstring or a comment does not.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from eegbench import code_fingerprint as cf

ENTRY = '''"""Entry module."""


def run(x):
    """Run the helper."""
    from fp_tmp_pkg.sub import helper  # function-level import

    return helper.activation(x)
'''

HELPER = '''"""Helper: the activation the entry applies."""
from .deeper import scale


def activation(x):
    """Exponential linear unit."""
    return x if x > 0 else scale() * (2.718281828 ** x - 1)  # ELU
'''

DEEPER = '''def scale():
    return 1.0
'''


@pytest.fixture
def package(tmp_path, monkeypatch):
    root = tmp_path / "fp_tmp_pkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "entry.py").write_text(ENTRY)
    (root / "unused.py").write_text("X = 1\n")
    (root / "sub" / "__init__.py").write_text("")
    (root / "sub" / "helper.py").write_text(HELPER)
    (root / "sub" / "deeper.py").write_text(DEEPER)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield root
    for name in [n for n in sys.modules if n.startswith("fp_tmp_pkg")]:
        del sys.modules[name]


def _fp(**kw):
    return cf.code_fingerprint(["fp_tmp_pkg.entry"], ["fp_tmp_pkg"], **kw)


def test_closure_follows_function_level_and_relative_imports(package):
    fp = _fp()
    assert set(fp.modules) == {"fp_tmp_pkg", "fp_tmp_pkg.entry", "fp_tmp_pkg.sub",
                               "fp_tmp_pkg.sub.helper", "fp_tmp_pkg.sub.deeper"}
    assert "fp_tmp_pkg" not in sys.modules  # found on disk, nothing imported


def test_a_change_in_a_non_entry_module_changes_the_fingerprint(package):
    before = _fp()
    helper = package / "sub" / "helper.py"
    helper.write_text(HELPER.replace("x if x > 0 else scale() * (2.718281828 ** x - 1)",
                                     "max(x, 0.0)").replace("# ELU", "# ReLU"))
    after = _fp()
    assert after.source_digest != before.source_digest
    assert {k for k in before.modules if before.modules[k] != after.modules[k]} == {
        "fp_tmp_pkg.sub.helper"}
    (package / "sub" / "deeper.py").write_text(DEEPER.replace("1.0", "1.5"))  # two levels down
    assert _fp().source_digest != after.source_digest


def test_docstring_and_comment_edits_keep_the_fingerprint(package):
    before = _fp()
    helper = package / "sub" / "helper.py"
    helper.write_text(textwrap.dedent('''\
        """Helper, reworded: it is documented at length now.

        With a second paragraph.
        """
        # a new comment line
        from .deeper import scale  # the scale


        def activation(x):
            """Exponential linear unit (Clevert et al. 2016)."""

            # comments and blank lines vanish from the syntax tree
            return x if x > 0 else scale() * (2.718281828 ** x - 1)  # still an ELU
        '''))
    (package / "entry.py").write_text(ENTRY.replace('"""Run the helper."""', ""))
    assert _fp().source_digest == before.source_digest
    # a string that is not a docstring is code
    helper.write_text(HELPER.replace("def activation(x):", "def activation(x):\n    x = x\n"
                                     "    'not a docstring'"))
    assert _fp().source_digest != before.source_digest


def test_loaded_modules_of_the_packages_are_added(package):
    import importlib

    importlib.import_module("fp_tmp_pkg.unused")  # imported by name, no import statement
    assert "fp_tmp_pkg.unused" not in _fp().modules
    assert "fp_tmp_pkg.unused" in _fp(include_loaded=True).modules


def test_library_versions_are_part_of_the_fingerprint(package, monkeypatch):
    before = _fp()
    assert set(cf.LIBRARIES) <= set(before.versions)
    real = cf.installed_version
    monkeypatch.setattr(cf, "installed_version",
                        lambda name: "9.9.9" if name == "scikit-learn" else real(name))
    after = _fp()
    assert after.source_digest == before.source_digest
    assert after.versions["scikit-learn"] == "9.9.9"
    assert after.digest != before.digest and after.label() != before.label()


def test_eegbench_run_fingerprint_covers_the_training_loop():
    fp = cf.code_fingerprint(["eegbench.evaluation.job", "eegbench.models.deep"], ["eegbench"])
    assert {"eegbench.training.loop", "eegbench.models.torch_model",
            "eegbench.evaluation.job"} <= set(fp.modules)
    assert not any(m.startswith("torch") for m in fp.modules)  # libraries: versions only


def test_callers_of_the_computation_are_left_out_of_the_loaded_modules(package):
    import importlib

    (package / "cli.py").write_text("from fp_tmp_pkg import entry\n\n\ndef main():\n"
                                    "    return entry.run(1.0)\n")
    importlib.import_module("fp_tmp_pkg.cli")  # a front end that calls the entry module
    importlib.import_module("fp_tmp_pkg.unused")
    fp = _fp(include_loaded=True, callers_of="fp_tmp_pkg.entry")
    assert "fp_tmp_pkg.cli" not in fp.modules and "fp_tmp_pkg.unused" in fp.modules
    assert "fp_tmp_pkg.cli" in _fp(include_loaded=True).modules


def test_model_code_fingerprint_names_distribution_version_code_and_libraries():
    from eegbench.evaluation.identity import model_code_fingerprint, model_code_identity

    label = model_code_fingerprint("ts_lr")
    dist, version, src, lib = label.split(" ")
    assert (dist, version) == ("eegbench", cf.installed_version("eegbench"))
    assert src.startswith("src:") and lib.startswith("lib:")
    modules = model_code_identity("ts_lr").modules
    assert {"eegbench.models.classical", "eegbench.evaluation.job",
            "eegbench/models/weights/known_checkpoints.yaml"} <= set(modules)


def test_a_classical_run_does_not_fingerprint_the_torch_model_modules():
    # a fresh interpreter: other tests may have imported the torch models already
    script = textwrap.dedent("""
        import json, sys
        from eegbench.models.base import build_model
        from eegbench.evaluation.identity import model_code_identity
        build_model("ts_lr")
        print(json.dumps(sorted(model_code_identity("ts_lr").modules)))
    """)
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", script], cwd=repo, capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": str(repo),
                                                     "OMP_NUM_THREADS": "1",
                                                     "PATH": "/usr/bin:/bin"})
    modules = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert {"eegbench.models.classical", "eegbench.models.base",
            "eegbench.evaluation.job"} <= modules
    torch_models = {"eegbench.models.torch_model", "eegbench.models.deep",
                    "eegbench.models.braindecode_zoo", "eegbench.models.foundation",
                    "eegbench.models.foundation_zoo", "eegbench.models.patch_transformer",
                    "eegbench.models.brain_tokenizer"}
    assert not modules & torch_models, sorted(modules & torch_models)
