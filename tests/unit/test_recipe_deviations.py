"""Declared recipe deviations (conf/model/*.yaml) and the published references they sit beside."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from eegbench.config import Job
from eegbench.config.sections import ModelSpec
from eegbench.evaluation.identity import identity_config
from eegbench.leaderboard.deviations import (
    FOUNDATION_MODELS,
    committed_settings,
    load_deviations,
    model_configs,
    model_deviations,
    read_rows,
    render_deviations,
)
from eegbench.leaderboard.published import (
    PUBLISHED_FILE,
    check_entry,
    load_published,
    matching,
    references_lines,
)

ROOT = Path(__file__).resolve().parents[2]
ROWS = ROOT / "leaderboard" / "rows.jsonl"


@pytest.mark.parametrize("name", FOUNDATION_MODELS)
def test_every_foundation_model_declares_its_deviations_with_a_source(name):
    deviations = model_deviations()[name]
    assert deviations, f"conf/model/{name}.yaml declares no deviations"
    for item in deviations:
        assert all(item[k].strip() for k in ("what", "original", "ours", "source"))
    # the config schema accepts the yaml as it is
    raw = yaml.safe_load((ROOT / "conf" / "model" / f"{name}.yaml").read_text())
    raw.pop("defaults", None)
    raw["params"] = {k: v for k, v in (raw.get("params") or {}).items()
                     if not (isinstance(v, str) and v.startswith("${"))}
    ModelSpec(**raw)


def test_a_deviation_without_a_source_is_refused(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("deviations:\n  - {what: x, original: a, ours: b}\n")
    with pytest.raises(ValueError, match="keys"):
        load_deviations(path)
    path.write_text("deviations:\n  - {what: x, original: a, ours: b, source: ' '}\n")
    with pytest.raises(ValueError, match="empty"):
        load_deviations(path)


def test_recipes_follow_the_originals_where_eegbench_can():
    configs = model_configs()
    for name in ("cbramod", "biot"):
        assert configs[name]["recipe"]["select_on"] == "roc_auc"
    for name in ("cbramod", "biot", "labram"):
        assert configs[name]["params"]["head"]["binary"] == "one_logit"
        assert configs[name]["recipe"]["class_weighting"] == "none"
    assert configs["labram"]["params"]["arch_params"]["drop_path_prob"] == 0.1
    # cbramod_probe inherits cbramod's recipe through its Hydra defaults
    assert configs["cbramod_probe"]["recipe"] == configs["cbramod"]["recipe"]


def test_deviations_are_not_part_of_a_result_identity():
    base = {"dataset": {"name": "d"}, "preprocess": {}, "protocol": {"name": "loso"},
            "trainer": {"select_on": None}, "model": {"name": "cbramod", "params": {}}}
    declared = json.loads(json.dumps(base))
    declared["model"]["deviations"] = [{"what": "w", "original": "o", "ours": "u", "source": "s"}]
    def ident(resolved):  # the identity reads only the resolved sections of a job
        return identity_config(Job(spec=None, resolved=resolved))

    assert ident(base) == ident(declared)
    changed = json.loads(json.dumps(base))
    changed["trainer"]["select_on"] = "roc_auc"
    assert ident(changed) != ident(base)


def test_rendered_section_reports_what_the_committed_rows_ran_with():
    rows = read_rows(ROWS)
    settings = {(s["model"], s["adaptation"], s["init"]): s
                for s in committed_settings(rows, ["cbramod"])}
    finetune = [r for r in rows if r["model"] == "cbramod" and r["adaptation"] == "finetune"
                and r["config"]["model"]["params"].get("init") == "pretrained"]
    assert finetune
    entry = settings[("cbramod", "finetune", "pretrained")]
    assert entry["rows"] == len(finetune)
    smoothing = {str(r["budget"]["label_smoothing"]) for r in finetune}
    selection = {r["budget"]["selection"] for r in finetune}
    assert len(smoothing) == 1 and entry["label_smoothing"] == smoothing.pop()
    assert len(selection) == 1 and entry["selection"] == selection.pop()
    text = render_deviations(rows, model_deviations(), model_configs())
    assert "# Recipes and declared deviations" in text
    for name in FOUNDATION_MODELS:
        assert f"## {name} (`conf/model/{name}.yaml`)" in text
    assert "wjq-learning/CBraMod preprocessing/preprocessing_stress.py" in text
    committed = (ROOT / "leaderboard" / "deviations.md").read_text().strip()
    assert committed == text.strip(), "leaderboard/deviations.md is stale: regenerate it"


def test_published_entries_name_paper_table_split_metric_and_url():
    entries = load_published()
    verified = [e for e in entries if e["verified"]]
    assert len(verified) >= 3
    assert len({e["paper"] for e in verified}) >= 2
    for e in entries:
        for key in ("paper", "table", "split", "metric", "url", "how"):
            assert str(e[key]).strip(), (e["model"], key)
        assert e["url"].startswith("https://")
    # the CBraMod split of our fixed-split table has verified figures beside it
    beside = matching("physionet_eegmat", "fixed_split", "32,33,34,35", model="cbramod")
    assert any(e["verified"] for e in beside) and any(not e["verified"] for e in beside)
    table = references_lines("physionet_eegmat")
    assert len(table) == len(entries) + 2
    assert all(line.count(" | ") == 8 for line in [table[0], *table[2:]])


def test_a_published_entry_without_its_source_or_split_is_refused():
    good = dict(yaml.safe_load(PUBLISHED_FILE.read_text())[0])
    check_entry(good, "ok")
    for key, value in (("url", ""), ("verified", "yes"), ("value", 72.56),
                       ("test_subjects", None), ("protocol", "loso")):
        with pytest.raises(ValueError):
            check_entry({**good, key: value}, "bad")
    with pytest.raises(ValueError, match="lacks"):
        check_entry({k: v for k, v in good.items() if k != "table"}, "bad")
