"""The precomputed parameter table behind `eegbench models list` matches the code.

Regenerate it with ``eegbench models counts --write`` when a model or braindecode changes.
"""

from __future__ import annotations

import json

import pytest

from eegbench.models.parameter_table import TABLE_PATH, installed_versions, load_table


def test_the_table_is_current_and_covers_every_model():
    from eegbench.models.base import MODELS, load_builtin_models
    from eegbench.models.braindecode_catalogue import model_classes

    table = load_table()
    assert table is not None, (f"{TABLE_PATH} was computed with other versions than "
                               f"{installed_versions()}: run `eegbench models counts --write`")
    load_builtin_models()
    builtin = {n for n in MODELS.names() if not n.startswith("braindecode.")
               and MODELS.distribution(n) is None}
    assert set(table["eegbench"]) == builtin, "run `eegbench models counts --write`"
    assert set(table["braindecode"]) == set(model_classes())


@pytest.mark.parametrize("name", ["ts_lr", "eegnet", "patch_tf_linear"])
def test_stored_counts_are_the_counts_of_the_models_built_now(name):
    from eegbench.models.parameter_counts import count_model

    family, n = count_model(name)
    assert load_table()["eegbench"][name] == {"family": family, "n_parameters": n}


@pytest.mark.slow
def test_the_whole_table_recomputes_identically():
    from eegbench.models.parameter_counts import compute_table

    fresh = json.loads(json.dumps(compute_table(), sort_keys=True))
    assert fresh == json.loads(TABLE_PATH.read_text())
