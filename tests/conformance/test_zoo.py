"""Every braindecode model, by name, through the conformance kit on real eegmat windows.

Models that cannot run here are refused with their listed reason (not an obscure failure);
models above ``HEAVY_PARAMETERS`` (braindecode's summary.csv count) are marked slow.
"""

from __future__ import annotations

import pytest

from eegbench.conformance import check_model
from eegbench.models import build_model
from eegbench.models.braindecode_catalogue import (
    HEAVY_PARAMETERS,
    REQUIREMENTS,
    SLOW_ON_CPU,
    TOO_LARGE_FOR_CPU_TESTS,
    ModelUnavailableError,
    _summary,
    model_classes,
    unavailable_reason,
)

NAMES = sorted(model_classes(), key=str.lower)
SLOW = SLOW_ON_CPU


def _heavy(name: str) -> bool:
    try:
        return int(_summary()[name]["#Parameters"]) > HEAVY_PARAMETERS
    except (KeyError, ValueError):
        return False


def _marks(name: str) -> list:
    if name in TOO_LARGE_FOR_CPU_TESTS:
        return [pytest.mark.slow, pytest.mark.skipif(
            not __import__("torch").cuda.is_available(), reason=TOO_LARGE_FOR_CPU_TESTS[name])]
    return [pytest.mark.slow] if (_heavy(name) or name in SLOW) else []


RUNNABLE = [pytest.param(n, marks=_marks(n)) for n in NAMES if not unavailable_reason(n)]
UNAVAILABLE = [n for n in NAMES if unavailable_reason(n)]


def test_the_zoo_covers_braindecode():
    import braindecode.models as bm

    # every class braindecode exports as a model is listed
    exported = {n for n in dir(bm) if isinstance(getattr(bm, n), type)
                and issubclass(getattr(bm, n), bm.base.EEGModuleMixin)
                and getattr(bm, n) is not bm.base.EEGModuleMixin}
    assert exported <= set(NAMES)
    assert len(RUNNABLE) + len(UNAVAILABLE) == len(NAMES)


@pytest.mark.parametrize("name", RUNNABLE)
def test_zoo_conformance(name, small_batch):
    if name in REQUIREMENTS:  # eegmat (19 channels, 5-s windows) does not meet them
        with pytest.raises(ValueError, match=f"braindecode {name} could not be built for "
                                             "this dataset .19 channels, 640 samples"):
            check_model("braindecode", {"arch": name}, batch=small_batch)
        return
    report = check_model("braindecode", {"arch": name}, batch=small_batch)
    assert report.n_parameters > 0
    assert {"fit", "predict_proba", "encode", "save/load", "train_step"} <= set(report.checks)


@pytest.mark.parametrize("name", UNAVAILABLE)
def test_unavailable_models_say_why(name):
    with pytest.raises(ModelUnavailableError, match=f"{name}.*cannot run in eegbench: "):
        build_model("braindecode", arch=name)


def test_unknown_name_suggests():
    with pytest.raises(ValueError, match="Did you mean .*'EEGNeX'"):
        build_model("braindecode", arch="EEGNex")
    with pytest.raises(ValueError, match="needs a class name"):
        build_model("braindecode")
