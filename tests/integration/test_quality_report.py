"""Standardization returns each recording's quality report (no hidden hand-off), and a recipe
is validated once into its typed model.

On the smallest real recording (the Elekta MEG file, three channels): one channel flat for
most of the recording gives a report whose action follows the recipe's ``quality.policy``.
"""

from __future__ import annotations

import copy

import pytest

from eegbench.data import recipe as recipe_module
from eegbench.data.quality import QualityReport
from eegbench.data.readers import read_recording
from eegbench.data.recipe import Recipe, RecipeError, load_recipe
from eegbench.data.recipe_schema import RecipeModel
from eegbench.data.standardize import PreprocessSpec, standardize_file, standardize_recording

MEG = "meg_elekta_3ch"


def _flat_first_channel(data_root, policy):
    base = load_recipe(MEG)
    raw = copy.deepcopy(base.raw)
    raw["quality"] = {**(raw.get("quality") or {}), "policy": policy}
    recipe = Recipe(name=MEG, raw=raw, path=base.path)
    source = recipe.discover(data_root)[0]
    recording, warnings = read_recording(source, recipe)
    recording.load_data()
    picked = recording.ch_names.index(recipe.model.channels.pick[0])
    n_flat = int(0.8 * recording.n_times)  # flat for 80 % of the recording (> 0.5 allowed)
    recording._data[picked, :n_flat] = recording._data[picked, 0]
    return recipe, source, recording, warnings


@pytest.mark.parametrize(("policy", "action", "kept"), [("warn", "kept (warn)", True),
                                                        ("drop_file", "dropped file", False)])
def test_the_report_comes_back_with_the_recording(data_root, policy, action, kept):
    recipe, source, recording, warnings = _flat_first_channel(data_root, policy)
    done = standardize_recording(source, recording, recipe, PreprocessSpec(), warnings)
    assert isinstance(done.quality, QualityReport)
    assert done.quality.file == source.relpath and done.quality.action == action
    assert done.quality.policy == policy
    assert done.quality.issues and done.quality.issues[0]["check"] == "flat_fraction"
    assert done.dropped is (not kept) and (done.windows is not None) is kept
    if kept:
        assert len(done.windows) == len(done.rows) > 0


def test_a_dropped_recording_has_no_windows_to_unpack(data_root):
    recipe, source, recording, warnings = _flat_first_channel(data_root, "drop_file")
    with pytest.raises(RecipeError, match="left out by the quality policy 'drop_file'"):
        standardize_file(source, recording, recipe, PreprocessSpec(), warnings)


def test_a_recipe_is_validated_once_into_its_typed_model(monkeypatch):
    calls = []
    original = recipe_module.validate_recipe

    def counting(raw, where):
        calls.append(where)
        return original(raw, where)

    monkeypatch.setattr(recipe_module, "validate_recipe", counting)
    recipe = load_recipe(MEG)
    assert len(calls) == 1
    assert isinstance(recipe.model, RecipeModel)
    assert recipe.classes == recipe.model.labels.classes
    assert recipe.declared_sfreq == recipe.model.sfreq
