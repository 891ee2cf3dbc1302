"""Typed recipe schema and path confinement, on the shipped recipes and real recordings.

Each case edits a copy of a real recipe (or a real data root laid out in tmp) the way a user
or an attacker would, and checks for an error that names the recipe file and the key.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from eegbench.data.cache import load_windows
from eegbench.data.recipe import Recipe, RecipeError, load_recipe
from eegbench.data.standardize import PreprocessSpec
from eegbench.resources import recipes_dir

EEGMAT = "physionet_eegmat"
SSVEP = "ssvep_exo_kalunga2016"


def _write(tmp_path: Path, name: str, edit) -> Path:
    raw = yaml.safe_load((recipes_dir() / f"{name}.yaml").read_text())
    edit(raw)
    path = tmp_path / f"{name}_edited.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_every_shipped_recipe_validates():
    for path in sorted(recipes_dir().glob("*.yaml")):
        assert load_recipe(path).name == path.stem


def test_misspelled_keys_are_errors_with_suggestions(tmp_path):
    def _typos(raw):
        raw["source"]["sha265"] = raw["source"].pop("sha256")
        raw["expected"]["duration"] = raw["expected"].pop("duration_s")
        raw["primary_metrik"] = "roc_auc"

    path = _write(tmp_path, EEGMAT, _typos)
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    message = str(info.value)
    assert f"Unknown key 'source.sha265' in {path}. Did you mean 'sha256'?" in message
    assert "Unknown key 'expected.duration' in" in message and "'duration_s'?" in message
    assert "Unknown key 'primary_metrik'" in message and "'primary_metric'?" in message


@pytest.mark.parametrize(("edit", "message"), [
    (lambda r: r.update(sfreq=-500), r"Invalid value for the 'sfreq' parameter in .*_edited"
                                     r"\.yaml: Input should be greater than 0, but got -500\."),
    (lambda r: r["source"]["csv"].update(unit="microvolt"),
     r"'source\.csv\.unit' parameter .* Input should be 'uV', 'mV' or 'V', but got "
     r"'microvolt'"),
    (lambda r: r["windows"].update(tmin=0.8, tmax=-0.1),
     r"windows\.tmax \(-0\.1\) must be greater than windows\.tmin \(0\.8\)"),
    (lambda r: r["source"]["csv"].update(jitter_tolerance_s="fast"),
     r"'source\.csv\.jitter_tolerance_s' parameter .* but got 'fast'"),
    (lambda r: r["source"].update(pattern="subject(?P<subject>\\d+/("),
     r"'source\.pattern' parameter .* not a valid regular expression"),
    (lambda r: r["expected"]["counts"][0]["classes"].update(targte=3),
     r"names unknown classes \['targte'\]"),
    (lambda r: r.update(exclude=[{"files": "subject1/.*"}]),
     r"Missing required key 'exclude\.0\.reason'"),
    (lambda r: r.update(primary_metric="accuracy"),
     r"'primary_metric' parameter .* must be one of \[.*'roc_auc'.*\], but got 'accuracy'"),
    (lambda r: r.update(quality={"policy": "ignore"}),
     r"'quality\.policy' parameter .* 'error', 'warn', 'drop_channel' or 'drop_file'"),
], ids=["negative_sfreq", "unit", "tmin_tmax", "jitter_type", "bad_regex", "count_class",
        "exclude_reason", "primary_metric", "quality_policy"])
def test_types_and_ranges_are_checked(tmp_path, edit, message):
    path = _write(tmp_path, "muse_visual_p300_eegnotebooks", edit)
    with pytest.raises(RecipeError, match=message):
        load_recipe(path)


def test_quality_and_primary_metric_sections_are_accepted(tmp_path):
    quality = {"policy": "drop_channel", "max_clipped_fraction": 0.2, "max_flat_fraction": 0.5,
               "flat_tolerance": 0.01, "max_abs_amplitude": {"eeg": 500.0}}
    path = _write(tmp_path, EEGMAT,
                  lambda r: r.update(primary_metric="roc_auc", quality=quality))
    recipe = load_recipe(path)
    assert recipe.raw["quality"] == quality and recipe.raw["primary_metric"] == "roc_auc"


@pytest.mark.parametrize("name", ["../../../x", "/tmp/x", "a/b", "..", ""])
def test_recipe_names_are_identifiers(tmp_path, name):
    path = _write(tmp_path, EEGMAT, lambda r: r.update(name=name))
    with pytest.raises(RecipeError, match=r"'name' parameter .* should match pattern"):
        load_recipe(path)
    with pytest.raises(RecipeError, match=r"'recipe' parameter"):
        load_recipe(name or "missing")


@pytest.mark.parametrize(("section", "value"), [
    ("folder", "../shared/data/physionet_eegmat"),
    ("folder", "/work/shared/data/physionet_eegmat"),
    ("companions", {"events": "../../../etc/passwd"}),
])
def test_recipe_paths_cannot_leave_the_data_root(tmp_path, section, value):
    path = _write(tmp_path, SSVEP, lambda r: r["source"].update({section: value}))
    with pytest.raises(RecipeError, match=rf"'source\.{section}(\.events)?' parameter .* "
                       "relative path below the data root"):
        load_recipe(path)


def test_links_leaving_the_data_root_are_refused_without_echo(data_root, tmp_path):
    """A downloaded dataset whose events file links to a private file outside the root."""
    secret = tmp_path / "private" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("TOP-SECRET-LINE\n")
    rec = "subject01/record-[2012.07.06-19.02.16]"
    folder = tmp_path / "data" / SSVEP
    (folder / "subject01").mkdir(parents=True)
    shutil.copyfile(data_root / SSVEP / f"{rec}_raw.fif", folder / f"{rec}_raw.fif")
    (folder / f"{rec}-eve.fif").symlink_to(secret)
    recipe = load_recipe(SSVEP)
    with pytest.raises(RecipeError) as info:
        load_windows(recipe, tmp_path / "data", PreprocessSpec(), tmp_path / "cache")
    assert "source.companions.events" in str(info.value) and "outside the data root" in str(
        info.value)
    assert "TOP-SECRET" not in str(info.value)


def test_a_dataset_folder_linked_into_the_data_root_is_followed(data_root, tmp_path):
    """Data kept on another disk and linked into the data root is the user's choice."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / EEGMAT).symlink_to(data_root / EEGMAT)
    recipe = load_recipe(EEGMAT)
    assert len(recipe.discover(tmp_path / "data")) == len(recipe.discover(data_root))


def test_recipe_built_in_code_is_validated_too():
    raw = copy.deepcopy(load_recipe(EEGMAT).raw)
    raw["windows"]["stride_s"] = 0
    with pytest.raises(RecipeError, match=r"'windows\.stride_s' parameter in recipe "
                       r"'physionet_eegmat': Input should be greater than 0"):
        Recipe(name=EEGMAT, raw=raw)


@pytest.mark.parametrize(("recipe_name", "relpath"), [
    (EEGMAT, "Subject00_1.edf"),
    ("muse_visual_p300_eegnotebooks", "subject1/session1/data_2017-02-04-15_47_49.csv"),
])
def test_a_non_recording_in_place_of_a_file_is_not_echoed(tmp_path, recipe_name, relpath):
    """A private text file where a recording should be: the error never quotes it."""
    base = load_recipe(recipe_name)
    raw = copy.deepcopy(base.raw)
    raw["source"].pop("sha256")
    path = tmp_path / "data" / raw["source"]["folder"] / relpath
    path.parent.mkdir(parents=True)
    path.write_text("root:x:0:0:TOP-SECRET:/root:/bin/bash\nuser:SECRET-2:1000\n")
    with pytest.raises(RecipeError) as info:
        load_windows(Recipe(name=base.name, raw=raw), tmp_path / "data", PreprocessSpec(),
                     tmp_path / "cache")
    assert relpath in str(info.value) and "SECRET" not in str(info.value)
