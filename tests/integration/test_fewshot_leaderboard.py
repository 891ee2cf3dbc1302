"""LOSO runs on real eegmat and few-shot runs on real SSVEP subjects, then a leaderboard rebuilt
byte-identically (eegmat few-shot is refused: each class is a whole recording)."""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from eegbench.resources import config_dir

SUBJECTS = "dataset.subjects=[00,01,02,03,04]"
SSVEP = ["dataset=ssvep_exo_kalunga2016", "dataset.subjects=[01,02,03,04,05]",
         "protocol=fewshot", "protocol.order=per_class"]


def _cfg(tmp: Path, cache: Path, data_root: Path, *overrides: str):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=[
            SUBJECTS, f"paths.data_root={data_root}", f"paths.cache_dir={cache}",
            f"paths.runs_dir={tmp}", "trainer=fast", *overrides])


@pytest.fixture(scope="module")
def store(tmp_path_factory, data_root, cache_root):
    from eegbench.evaluation.job import run_experiment

    runs = tmp_path_factory.mktemp("runs")
    run_experiment(_cfg(runs, cache_root, data_root, "model=ts_lr"))
    run_experiment(_cfg(runs, cache_root, data_root, "model=ts_lr", *SSVEP,
                        "protocol.shots=[1,4]"))
    run_experiment(_cfg(runs, cache_root, data_root, "model=ts_lr", *SSVEP,
                        "protocol.shots=[1,4]", "protocol.mode=from_scratch"))
    # a specialist: leave-one-subject-out with layer-wise probes, and few-shot calibration
    run_experiment(_cfg(runs, cache_root, data_root, "model=eegnet", "trainer.max_epochs=1",
                        "+protocol.layer_probe=true", "+protocol.layer_probe_max_features=64"))
    run_experiment(_cfg(runs, cache_root, data_root, "model=eegnet", "trainer.max_epochs=1",
                        *SSVEP, "protocol.shots=[4]", "protocol.calibrate.max_epochs=2"))
    return runs / "default" / "results"


def test_fewshot_rows_record_shots_and_keep_calibration_out_of_test(store):
    from eegbench.results.store import ResultStore

    frame = ResultStore(store).to_frame()
    eegnet = frame[frame["model"] == "eegnet"]
    frame = frame[frame["model"] == "ts_lr"]
    few = frame[frame["protocol"] == "fewshot"]
    # 5 subjects x 2 k x 2 modes (time-ordered shots: one "draw")
    assert len(few) == 20 and len(frame[frame["protocol"] == "loso"]) == 5
    assert set(few["dataset"]) == {"ssvep_exo_kalunga2016"} and set(few["draw"]) == {0}
    for _, row in few.iterrows():
        assert row["n_calib"] == 4 * row["shots"]  # k per class, 4 classes
        # 5 subjects: 1 validation subject (at most a third of the 4 non-test ones), 3 train
        assert row["n_train"] == (0 if row["calibration"] == "from_scratch" else 3 * 32)
        # few-shot from scratch: fixed budget, no validation subject
        assert row["n_valid"] == (0 if row["calibration"] == "from_scratch" else 1 * 32)
    # every k of a subject is evaluated on the same trials (those after the k=4 shots)
    per_subject = few.groupby(["test_subject", "calibration"])["n_test"].nunique()
    assert (per_subject == 1).all()
    assert set(few["shots"]) == {1, 4}
    # eegnet few-shot: the cross-subject network was fine-tuned on the shots
    calibrated = eegnet[eegnet["protocol"] == "fewshot"]
    assert len(calibrated) == 5 and (calibrated["n_calib"] == 16).all()
    assert all(r["calibration"] == "fine-tune cross-subject model" and r["calib_epochs"] == 2
               for r in calibrated["fit_report"])
    # rows carry predictions and how their hyperparameters were decided
    assert all(len(p["y"]) == n for p, n in zip(frame["predictions"], frame["n_test"],
                                                strict=True))
    assert frame["hp_source"].str.startswith("a priori").all()


def test_layer_probe_rows_follow_each_trained_network(store):
    from eegbench.results.store import ResultStore

    frame = ResultStore(store).to_frame()
    loso = frame[(frame["model"] == "eegnet") & (frame["protocol"] == "loso")]
    probes = loso[loso["adaptation"].str.startswith("layer_probe:")]
    assert len(loso[loso["adaptation"] == "from_scratch"]) == 5
    per_fold = probes.groupby("fold")["adaptation"].apply(sorted)
    assert len(per_fold) == 5 and per_fold.iloc[0][0] == "layer_probe:00-input"
    assert per_fold.iloc[0][1] == "layer_probe:01-net.conv_temporal"
    # same fold identity as the fine-tuned row; probe sizes reflect pooled features
    assert set(probes["config_hash"]) == set(loso["config_hash"])
    assert (probes["n_parameters"] <= 64 + 1).all()


def test_leaderboard_rebuilds_identically_and_reports_statistics(store, tmp_path):
    from eegbench.leaderboard.__main__ import main
    from eegbench.leaderboard.stats import compare_with_best
    from eegbench.leaderboard.tables import BLOCK_COLUMNS, CONFIG_COLUMNS

    args = ["--results", str(store), "--out", str(tmp_path / "a"), "--name", "lb"]
    main(args)
    shutil.copytree(tmp_path / "a", tmp_path / "first")
    main(args)
    for suffix in (".md", ".csv", "_per_subject.csv", ".html"):
        assert filecmp.cmp(tmp_path / "a" / f"lb{suffix}", tmp_path / "first" / f"lb{suffix}",
                           shallow=False), suffix
    plots = sorted(p.name for p in (tmp_path / "a" / "lb_plots").glob("*.png"))
    assert "kshot_ssvep_exo_kalunga2016_ssvep_4class.png" in plots
    assert any(p.startswith("per_subject_") for p in plots) and "score_vs_params.png" in plots
    summary = pd.read_csv(tmp_path / "a" / "lb.csv")
    # one table per (protocol, k): loso, fewshot k=1, k=4; two configs in each few-shot table
    ts_lr = summary[summary["model"] == "ts_lr"]
    assert ts_lr.groupby(["protocol", "shots"]).size().to_dict() == {
        ("fewshot", 1): 2, ("fewshot", 4): 2, ("loso", 0): 1}
    # chance test of every cell from the stored predictions, bootstrap CIs over subjects
    assert summary["p_chance"].notna().all() and summary["primary_ci_low"].notna().all()
    assert set(summary["primary_metric"]) == {"balanced_accuracy"}
    assert "probe_vs_finetune_physionet_eegmat_rest_vs_arithmetic_loso.png" in plots
    # the tabulated Holm p-values are those of the statistics module on per-subject scores
    subj = pd.read_csv(tmp_path / "a" / "lb_per_subject.csv", dtype={"test_subject": str})
    ref = compare_with_best(subj, BLOCK_COLUMNS, CONFIG_COLUMNS, "balanced_accuracy")
    merged = summary.merge(ref, on=BLOCK_COLUMNS + CONFIG_COLUMNS, suffixes=("", "_ref"))
    np.testing.assert_allclose(merged["p_holm"], merged["p_holm_ref"], rtol=1e-5)
    assert summary["is_best"].sum() == 3  # tables: loso, k=1, k=4
    html = (tmp_path / "a" / "lb.html").read_text()
    # per table: its main columns and its collapsible details; then the rank table
    assert html.count("<table>") == 3 * 2 + 1 and html.count("<details>") == 3
    assert "Provenance:" in html and "lb_plots/kshot_" in html
    md = (tmp_path / "a" / "lb.md").read_text()
    assert "ssvep_exo_kalunga2016 / ssvep_4class / fewshot / k = 4 per class" in md
    assert "p vs chance" in md and "Ranked and tested by balanced accuracy" in md
    assert "Mean rank across datasets" in md
