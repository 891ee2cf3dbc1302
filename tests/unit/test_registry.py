"""Registry[T]: lazy ``module:attr`` entries, families, entry-point plugins, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from eegbench.registry import Family, Registry, RegistryError, import_target

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """A package ``reg_tmp_pkg`` with two objects, and an installed distribution whose
    ``reg_tmp.things`` entry points name one good and one broken object."""
    pkg = tmp_path / "reg_tmp_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "things.py").write_text("ALPHA = 'alpha'\n\ndef make(name):\n    return name.upper()\n")
    (pkg / "plugin.py").write_text("GAMMA = 'gamma'\n")
    (pkg / "broken.py").write_text("import reg_tmp_no_such_module\n")
    dist = tmp_path / "reg_tmp_dist-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: reg-tmp-dist\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[reg_tmp.things]\ngamma = reg_tmp_pkg.plugin:GAMMA\nbad = reg_tmp_pkg.broken:X\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield pkg
    for name in [n for n in sys.modules if n.startswith("reg_tmp_pkg")]:
        del sys.modules[name]


def test_lazy_entries_are_listed_without_import_and_imported_on_get(fake_package):
    reg: Registry[str] = Registry("thing", builtins={"alpha": "reg_tmp_pkg.things:ALPHA"},
                                  families=[Family(lambda: ["b1", "b2"],
                                                   "reg_tmp_pkg.things:make")])
    assert reg.names() == ["alpha", "b1", "b2"]
    assert "reg_tmp_pkg.things" not in sys.modules and not reg.is_loaded("alpha")
    assert reg.get("alpha") == "alpha" and reg["b2"] == "B2"
    assert "reg_tmp_pkg.things" in sys.modules and reg.is_loaded("alpha")
    assert reg.origin("b1") == "built-in" and reg.distribution("b1") is None


def test_duplicates_are_an_error_and_unknown_names_get_suggestions(fake_package):
    reg: Registry[str] = Registry("thing", builtins={"alpha": "reg_tmp_pkg.things:ALPHA"},
                                  parameter="section.thing")
    with pytest.raises(RegistryError, match="already registered .by built-in.; cannot "
                                            "register it again from tests"):
        reg.register("alpha", "other", origin="tests")
    with pytest.raises(RegistryError, match=r"Invalid value for the 'section.thing' parameter"
                                            r"\. Allowed values are \['alpha'\], but got "
                                            r"'alpah'\. Did you mean 'alpha'\?"):
        reg.get("alpah")
    with pytest.raises(ValueError, match="'package.module:attribute'"):
        import_target("reg_tmp_pkg.things.ALPHA")
    reg.unregister("alpha")
    assert reg.names() == []
    with pytest.raises(RegistryError, match="but got 'alpha'"):
        reg.unregister("alpha")


def test_entry_points_are_listed_by_name_and_loaded_on_demand(fake_package):
    reg: Registry[str] = Registry("thing", group="reg_tmp.things",
                                  builtins={"alpha": "reg_tmp_pkg.things:ALPHA"})
    assert reg.names() == ["alpha", "bad", "gamma"]
    assert "reg_tmp_pkg.plugin" not in sys.modules  # listed, not imported
    assert reg.get("gamma") == "gamma"
    assert reg.distribution("gamma") == "reg-tmp-dist"
    assert reg.origin("gamma") == "entry point reg_tmp_pkg.plugin:GAMMA (reg-tmp-dist 1.0)"
    with pytest.raises(RegistryError, match="plugin 'bad' is installed but could not be "
                                            "loaded: entry point reg_tmp_pkg.broken:X "
                                            r"\(reg-tmp-dist 1.0\) failed to import: "
                                            "ModuleNotFoundError"):
        reg.get("bad")
    assert reg.load_all() == {"alpha": "alpha", "gamma": "gamma"}  # the broken one left out
    assert set(reg.broken) == {"bad"}


def test_an_entry_point_clashing_with_a_builtin_is_an_error(fake_package):
    reg: Registry[str] = Registry("thing", group="reg_tmp.things",
                                  builtins={"gamma": "reg_tmp_pkg.things:ALPHA"})
    with pytest.raises(RegistryError, match="'gamma' is already registered"):
        reg.names()


def test_listing_models_and_adaptations_imports_no_implementation():
    script = textwrap.dedent("""
        import json, sys
        from eegbench.adaptation.registry import adaptation_names, check_adaptation
        from eegbench.models.base import MODELS
        from eegbench.protocols.registry import PROTOCOLS
        names = MODELS.names()
        check_adaptation("lora")
        print(json.dumps({"models": names, "adaptations": adaptation_names(),
                          "protocols": PROTOCOLS.names(),
                          "loaded": sorted(m for m in sys.modules
                                           if m.startswith(("eegbench", "torch")))}))
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                         text=True, check=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"ts_lr", "eegnet", "shallow_fbcsp", "patch_tf_conv", "cbramod",
            "braindecode.EEGNeX"} <= set(seen["models"])
    assert {"from_scratch", "linear_probe", "lp_ft", "lora", "probe_then_oft"} <= set(
        seen["adaptations"])
    assert {"loso", "fewshot", "within_run"} <= set(seen["protocols"])
    implementations = [m for m in seen["loaded"] if m.startswith("torch") or m in (
        "eegbench.models.classical", "eegbench.models.torch_model",
        "eegbench.adaptation.peft_methods", "eegbench.adaptation.finetune",
        "eegbench.protocols.fewshot")]
    assert not implementations, implementations


@pytest.mark.slow  # imports every model module (tests/conformance builds each model anyway)
def test_every_builtin_table_entry_resolves():
    from eegbench.adaptation.builtins import BUILTIN_ADAPTATIONS
    from eegbench.adaptation.registry import ADAPTATIONS, Adaptation
    from eegbench.models.patch_transformer import PATCH_EMBEDDINGS as IN_MODULE
    from eegbench.models.zoo import BUILTIN_MODELS, PATCH_EMBEDDINGS
    from eegbench.pretraining.objectives.base import PretrainObjective
    from eegbench.pretraining.objectives.registry import OBJECTIVES
    from eegbench.protocols.registry import PROTOCOLS

    for name, target in BUILTIN_MODELS.items():
        assert callable(import_target(target)), (name, target)
    assert IN_MODULE == PATCH_EMBEDDINGS
    for name in ADAPTATIONS.names():
        adaptation = ADAPTATIONS.get(name)
        assert isinstance(adaptation, Adaptation) and adaptation.name == name
    assert set(BUILTIN_ADAPTATIONS) < set(ADAPTATIONS.names())
    for name, cls in OBJECTIVES.load_all().items():
        assert issubclass(cls, PretrainObjective) and cls.name == name
    assert all(hasattr(cls, "split") for cls in PROTOCOLS.load_all().values())
