"""A plugin model is submitted on (a small official list of) real configurations and verified."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(args, env, cwd):
    return subprocess.run([sys.executable, "-m", "eegbench.cli.submission", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_submit_and_verify_a_plugin_model(tmp_path, data_root, cache_root):
    target = tmp_path / "site"
    source = shutil.copytree(REPO / "tests" / "plugin_pkg", tmp_path / "plugin_pkg")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target),
                    str(source)], check=True, cwd=tmp_path, capture_output=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(REPO)]),
           "OMP_NUM_THREADS": "1", "EEGBENCH_DATA_ROOT": str(data_root),
           "EEGBENCH_CACHE_DIR": str(cache_root)}
    official = tmp_path / "official.yaml"
    official.write_text(
        "configurations:\n  - name: eegmat_4\n    overrides: [dataset=physionet_eegmat, "
        "protocol=loso, 'dataset.subjects=[00,01,02,03]', protocol.n_valid_subjects=1, "
        "'seeds=[0]']\n")
    bundle = tmp_path / "bundle"
    proc = _run(["run", "--model", "dummy_plugin", "--out", str(bundle), "--official",
                 str(official), "trainer=fast"], env, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((bundle / "manifest.json").read_text())
    origin = manifest["origin"]
    assert origin["third_party"] and origin["distribution"] == "eegbench-dummy-plugin"
    assert origin["version"] == "0.0.1" and len(origin["source_sha256"]) == 64
    assert manifest["user_overrides"] == ["trainer=fast"] and manifest["n_rows"] == 4
    rows = (bundle / "rows.jsonl").read_text().splitlines()
    assert len(rows) == 4 and {json.loads(r)["model"] for r in rows} == {"dummy_plugin"}

    ok = _run(["verify", str(bundle), "--folds", "2"], env, tmp_path)
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert "verified 2 fold(s)" in ok.stderr

    # an edited row breaks the bundle's checksum
    edited = [json.loads(r) for r in rows]
    edited[0]["metrics"]["balanced_accuracy"] = 0.99
    (bundle / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in edited))
    bad = _run(["verify", str(bundle)], env, tmp_path)
    assert bad.returncode == 1 and "edited after the bundle was written" in bad.stderr

    # an edited score with the checksum updated too disagrees with the row's predictions
    from eegbench.hashing import sha256_of

    manifest["rows_sha256"] = sha256_of(bundle / "rows.jsonl")
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    refused = _run(["verify", str(bundle)], env, tmp_path)
    assert refused.returncode == 1 and "disagree with its own predictions" in refused.stderr

    # forged predictions with matching metrics pass that check, but do not reproduce
    import numpy as np

    from eegbench.metrics import score_predictions

    forged = [json.loads(r) for r in rows]
    worst = min(forged, key=lambda r: r["metrics"]["balanced_accuracy"])
    assert worst["metrics"]["balanced_accuracy"] < 0.9
    labels = np.asarray(worst["predictions"]["y"])
    perfect = np.eye(len(worst["predictions"]["proba"][0]))[labels]
    worst["predictions"], worst["metrics"] = score_predictions(labels, perfect)
    worst["predicted_class_counts"] = np.bincount(labels, minlength=perfect.shape[1]).tolist()
    (bundle / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in forged))
    manifest["rows_sha256"] = sha256_of(bundle / "rows.jsonl")
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    caught = _run(["verify", str(bundle), "--folds", "4"], env, tmp_path)
    assert caught.returncode == 1 and "do not reproduce" in caught.stderr
