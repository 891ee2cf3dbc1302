"""Fold-invariant features computed once and cached: same predictions as fitting on windows.

Real eegmat subjects (the first few, whatever their ids); the feature cache is compared with
the plain path fold by fold, and its invalidation is checked on changed windows, changed
transform parameters and corrupted bytes.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from conftest import read_only_view
from hydra import compose, initialize_config_dir

from eegbench.features.precompute import cached_transform, precompute_fold_invariant
from eegbench.models.base import SignalSpec, build_model
from eegbench.resources import config_dir

#: Three of fb_ts_lr's default bands keep the test short; the mechanism does not depend on them.
BANDS = [[8.0, 12.0], [12.0, 16.0], [20.0, 24.0]]
PARAMS = {"fb_ts_lr": {"bands": BANDS}, "ts_lr": {}}
N_SUBJECTS = 4  # leave-one-subject-out needs 1 test + 2 validation + >=1 train


@pytest.fixture(scope="module")
def subset(eegmat):
    """Windows (float32, as cached) and labels of the first N_SUBJECTS eegmat subjects."""
    subjects = sorted(eegmat.meta["subject"].unique())[:N_SUBJECTS]
    keep = eegmat.meta["subject"].isin(subjects).to_numpy()
    signal = SignalSpec.from_info(eegmat.info, eegmat.X.shape[-1])
    return (np.asarray(eegmat.X[keep]), eegmat.y[keep],
            eegmat.meta["subject"].to_numpy()[keep], signal, subjects)


@pytest.mark.parametrize("name", ["fb_ts_lr", "ts_lr"])
def test_loso_predictions_identical_with_feature_cache(subset, tmp_path, name):
    X, y, subject, signal, subjects = subset
    F = precompute_fold_invariant(build_model(name, **PARAMS[name]), X, signal, tmp_path)
    assert F is not None and len(F) == len(X)
    for held_out in subjects[:2]:
        test = subject == held_out
        plain = build_model(name, **PARAMS[name])
        plain.fit(X[~test], y[~test], X[:0], y[:0], signal, seed=0)
        cached = build_model(name, **PARAMS[name])
        report = cached.fit_features(F[~test], y[~test], F[:0], y[:0], signal, seed=0)
        assert report == {"fold_invariant_features": "precomputed"}
        expected = plain.predict_proba(X[test])
        np.testing.assert_array_equal(cached.predict_proba_features(F[test]), expected)
        # the model fitted on features also predicts from windows
        np.testing.assert_array_equal(cached.predict_proba(X[test]), expected)


def test_fb_ts_lr_matches_the_single_step_filter_bank(subset):
    """Splitting the filter bank into two pipeline steps changed no prediction."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from eegbench.models.filterbank import FilterBankTangentSpace

    X, y, subject, signal, subjects = subset
    test = subject == subjects[0]
    single = make_pipeline(FilterBankTangentSpace(sfreq=signal.sfreq, bands=BANDS),
                           StandardScaler(),
                           LogisticRegression(C=0.1, max_iter=2000, class_weight="balanced",
                                              random_state=0))
    single.fit(np.asarray(X[~test], dtype=np.float64), y[~test])
    model = build_model("fb_ts_lr", bands=BANDS)
    model.fit(X[~test], y[~test], X[:0], y[:0], signal, seed=0)
    np.testing.assert_array_equal(model.predict_proba(X[test]),
                                  single.predict_proba(np.asarray(X[test], dtype=np.float64)))


def test_feature_cache_reuses_and_invalidates(subset, tmp_path, caplog):
    X, _, _, signal, _ = subset
    X = X[:40]
    head = build_model("fb_ts_lr").fold_invariant_transformer(signal)
    first = np.array(cached_transform(head, X, tmp_path, batch_windows=16))
    entries = sorted((tmp_path / "features").iterdir())
    entries = [e for e in entries if e.is_dir()]
    assert len(entries) == 1
    # batches give the numbers of one whole-array transform
    np.testing.assert_array_equal(first, head.transform(np.asarray(X, dtype=np.float64)))
    with caplog.at_level(logging.INFO, logger="eegbench.features.precompute"):
        again = cached_transform(head, X, tmp_path)
    assert "using feature cache entry" in caplog.text
    np.testing.assert_array_equal(again, first)

    changed = X.copy()
    changed[3, 0, 100] += 1.0  # one sample of one window
    other = cached_transform(head, changed, tmp_path)
    assert not np.array_equal(other[3], first[3])
    np.testing.assert_array_equal(other[:3], first[:3])
    narrow = build_model("fb_ts_lr", bands=[[8, 12]]).fold_invariant_transformer(signal)
    assert cached_transform(narrow, X, tmp_path).shape[1] == 1
    assert len([e for e in (tmp_path / "features").iterdir() if e.is_dir()]) == 3

    # corrupt bytes in the stored features: detected, logged and rebuilt
    stored = entries[0] / "F.npy"
    raw = bytearray(stored.read_bytes())
    raw[-8:] = b"\x00" * 8
    stored.chmod(0o644)
    stored.write_bytes(bytes(raw))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="eegbench.features.precompute"):
        rebuilt = cached_transform(head, X, tmp_path)
    assert "corrupt" in caplog.text
    np.testing.assert_array_equal(rebuilt, first)


def test_run_experiment_rows_identical_with_and_without_feature_cache(
        eegmat, data_root, tmp_path):
    from eegbench.evaluation.job import run_experiment

    subjects = ",".join(sorted(eegmat.meta["subject"].unique())[:N_SUBJECTS])
    scores = {}
    for flag in ("true", "false"):
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = compose("config", overrides=[
                f"dataset.subjects=[{subjects}]", f"paths.data_root={data_root}",
                f"paths.cache_dir={tmp_path / 'cache'}", f"paths.runs_dir={tmp_path / flag}",
                "model=fb_ts_lr", f"model.params.bands={BANDS}", f"+feature_cache={flag}"])
        rows = run_experiment(cfg)
        assert len(rows) == N_SUBJECTS
        scores[flag] = {r["fold"]: {k: v for k, v in r.items() if k.startswith("metric.")}
                        for r in rows}
    assert scores["true"] == scores["false"]
    assert any((tmp_path / "cache" / "features").iterdir())


def test_valid_feature_entry_is_used_from_a_read_only_cache(subset, tmp_path):
    """A read-only cache share with a valid entry: nothing written (no .lock), same features;
    an entry that must be computed there is a clear error naming it."""
    X, _, _, signal, _ = subset
    X = X[:24]
    head = build_model("ts_lr").fold_invariant_transformer(signal)
    first = np.array(cached_transform(head, X, tmp_path / "cache"))
    with read_only_view(tmp_path / "cache", tmp_path) as ro_cache:
        before = sorted(p.name for p in ro_cache.rglob("*"))
        again = cached_transform(head, X, ro_cache)
        np.testing.assert_array_equal(np.array(again), first)
        assert sorted(p.name for p in ro_cache.rglob("*")) == before
        del again  # close the memory map before unmounting
        with pytest.raises(PermissionError, match=r"Feature cache entry .* is missing and the "
                           r"cache folder .* is not writable"):
            cached_transform(head, X[:12], ro_cache)
