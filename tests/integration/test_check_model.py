"""The conformance kit finds the recordings wherever it runs, and says which checks passed."""

from __future__ import annotations

import re

import pytest

from eegbench.conformance import ALL_CHECKS, check_model


def test_check_model_reads_the_data_root_it_is_given(data_root, cache_root, tmp_path,
                                                     monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # ../shared/data does not exist from here
    monkeypatch.delenv("EEGBENCH_DATA_ROOT", raising=False)
    report = check_model("ts_lr", data_root=data_root, cache_dir=cache_root)
    printed = capsys.readouterr().out
    n = len(report.checks)
    assert f"check_model(ts_lr): {n}/{n} checks passed: " in printed
    assert report.checks[:3] == ["fit", "predict_proba", "n_parameters"]
    # a classical pipeline has no torch module: those checks are named as not applicable
    assert set(report.checks) | set(report.not_applicable) == set(ALL_CHECKS)
    assert "train_step" in report.not_applicable and "not applicable" in printed
    assert str(report) in printed


def test_check_model_reads_the_environment_variable(data_root, cache_root, tmp_path,
                                                    monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EEGBENCH_DATA_ROOT", str(data_root))
    monkeypatch.setenv("EEGBENCH_CACHE_DIR", str(cache_root))
    report = check_model("eegnet", verbose=False)
    assert "checks passed" not in capsys.readouterr().out  # verbose=False
    assert report.checks == list(ALL_CHECKS)  # a torch network: every check applies
    assert re.fullmatch(r"check_model\(eegnet\): 9/9 checks passed: fit, .*, save/load",
                        report.summary())


def test_check_model_says_where_it_looked_when_no_recordings_are_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EEGBENCH_DATA_ROOT", raising=False)
    with pytest.raises(FileNotFoundError) as err:
        check_model("ts_lr")
    text = str(err.value)
    assert str((tmp_path / "../shared/data/physionet_eegmat").resolve()) in text
    assert "the default ../shared/data" in text and str(tmp_path) in text
    assert "check_model(name, data_root=...)" in text and "EEGBENCH_DATA_ROOT" in text
    empty = tmp_path / "empty"
    (empty / "physionet_eegmat").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="data root from the data_root argument"):
        check_model("ts_lr", data_root=empty)
