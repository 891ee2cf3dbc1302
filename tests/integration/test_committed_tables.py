"""A fresh clone rebuilds every committed table from the shipped rows, byte for byte."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_committed_tables_rebuild_identically_from_shipped_rows(tmp_path):
    committed = REPO / "leaderboard"
    spec = yaml.safe_load((committed / "plan.yaml").read_text())["committed"]
    work = tmp_path / "clone"
    (work / "leaderboard").mkdir(parents=True)
    for name in ("plan.yaml", spec["rows"], "data_versions.yaml"):  # what a clone ships
        shutil.copy(committed / name, work / "leaderboard" / name)
    subprocess.run([sys.executable, "-m", "eegbench.leaderboard", "--committed"], cwd=work,
                   check=True, capture_output=True, env={"PYTHONPATH": str(REPO),
                                                         "OMP_NUM_THREADS": "1",
                                                         "PATH": "/usr/bin:/bin"})
    for table in spec["tables"]:
        for suffix in (".md", ".csv", "_per_subject.csv", ".html",
                       "_foundation_vs_references.csv"):
            name = f"{table['name']}{suffix}"
            if not (committed / name).is_file() and suffix.startswith("_foundation"):
                assert not (work / "leaderboard" / name).is_file(), name
                continue
            assert (work / "leaderboard" / name).read_bytes() == (committed / name).read_bytes(), \
                name


def _read(path):
    import pandas as pd

    return pd.read_csv(path, dtype={"config_hash": str, "test_subject": str,
                                    "foundation_config": str, "reference_config": str},
                       keep_default_na=False, na_values=[""])


def _close(a, b):
    import numpy as np

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=1e-9, atol=1e-12)


def test_every_committed_p_value_recomputes_from_the_per_subject_csv_alone():
    """p (Holm), p vs chance (subjects) and the foundation-vs-reference p, from the CSVs.

    Only the window-level chance test needs the stored predictions (rows.jsonl). Regression
    tables: p (Holm) of the per-subject absolute errors (lower is better) and p vs the
    training mean (one-sided Wilcoxon against each subject's training-mean error).
    """
    import numpy as np

    from eegbench.leaderboard.stats import compare_with_best, holm, one_sided_wilcoxon, paired_test
    from eegbench.leaderboard.stats import subject_chance_test as chance_test
    from eegbench.leaderboard.tables import CONFIG_COLUMNS, TEST_BLOCK_COLUMNS
    from eegbench.metrics import higher_is_better

    committed = REPO / "leaderboard"
    spec = yaml.safe_load((committed / "plan.yaml").read_text())["committed"]
    checked = 0
    for table in spec["tables"]:
        name = table["name"]
        regression = table.get("kind") == "regression"
        per_subject = _read(committed / f"{name}_per_subject.csv")
        summary = _read(committed / f"{name}.csv")
        for metric, rows in summary.groupby("primary_metric"):
            subj = per_subject[per_subject["dataset"].isin(rows["dataset"])]
            ours = compare_with_best(subj.dropna(subset=[metric]), TEST_BLOCK_COLUMNS,
                                     CONFIG_COLUMNS, metric,
                                     higher_is_better=higher_is_better(metric))
            merged = rows.merge(ours, on=["dataset", "task", "protocol", "shots",
                                          *CONFIG_COLUMNS], suffixes=("", "_ours"))
            assert len(merged) == len(rows), name
            _close(merged["p_value"], merged["p_value_ours"])
            _close(merged["p_holm"], merged["p_holm_ours"])
            for _, r in rows.iterrows():
                cell = subj[(subj["config_hash"] == r["config_hash"])
                            & (subj["dataset"] == r["dataset"]) & (subj["task"] == r["task"])
                            & (subj["protocol"] == r["protocol"]) & (subj["shots"] == r["shots"])]
                if regression:  # one-sided: smaller errors than the training mean's
                    expected = one_sided_wilcoxon(cell["chance_abs_error"].to_numpy(),
                                                  cell[metric].to_numpy())
                    _close([r["p_chance"]], [expected])
                else:
                    expected = chance_test(cell[r["chance_metric"]].to_numpy(), r["chance"])
                    _close([r["p_chance"]], [expected["p_value"]])
                checked += 1
        refs = committed / f"{name}_foundation_vs_references.csv"
        if refs.is_file():
            comparisons = _read(refs)
            p = []
            for _, r in comparisons.iterrows():
                block = per_subject[(per_subject["dataset"] == r["dataset"])
                                    & (per_subject["protocol"] == r["protocol"])
                                    & (per_subject["shots"] == r["shots"])]
                a = block[block["config_hash"] == r["foundation_config"]].set_index(
                    "test_subject")[r["metric"]]
                b = block[block["config_hash"] == r["reference_config"]].set_index(
                    "test_subject")[r["metric"]]
                both = a.index.intersection(b.index)
                p.append(paired_test(a[both].to_numpy(), b[both].to_numpy())[1])
            _close(comparisons["p_value"], p)
            _close(comparisons["p_holm"], holm(np.asarray(p)))
            checked += len(p)
    assert checked > 100
