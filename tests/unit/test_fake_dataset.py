"""The synthetic fake dataset is read by the real recipe machinery and is learnable."""

from __future__ import annotations

import numpy as np
from fake_dataset import CHANNELS, DURATION_S, WINDOW_S


def test_fake_windows_have_the_recipe_shape(fake_windows, fake_dataset):
    n_per_subject = sum(int(d // WINDOW_S) for d in DURATION_S.values())
    assert fake_windows.X.shape[:2] == (len(fake_dataset.subjects) * n_per_subject,
                                        len(CHANNELS))
    assert sorted(fake_windows.meta.subject.unique()) == list(fake_dataset.subjects)
    counts = np.bincount(fake_windows.y)
    assert counts.tolist() == [len(fake_dataset.subjects) * int(DURATION_S[run] // WINDOW_S)
                               for run in ("1", "2")]
    assert np.isfinite(np.asarray(fake_windows.X)).all()


def test_fake_classes_are_learnable_across_subjects(fake_windows):
    """ts_lr on one leave-one-subject-out fold is far above chance (so a test built on the
    fake set can tell a working model from one that ignores its input)."""
    from eegbench.metrics import compute_metrics
    from eegbench.models import SignalSpec, build_model
    from eegbench.protocols.splitters import LeaveOneSubjectOut

    X = np.asarray(fake_windows.X, dtype=np.float32)
    y = fake_windows.y
    fold = next(iter(LeaveOneSubjectOut(n_valid_subjects=1, seed=0).split(fake_windows.meta)))
    model = build_model("ts_lr")
    model.fit(X[fold.train], y[fold.train], X[fold.valid], y[fold.valid],
              SignalSpec.from_info(fake_windows.info, X.shape[-1]), seed=0)
    metrics = compute_metrics(y[fold.test], model.predict_proba(X[fold.test]))
    assert metrics["balanced_accuracy"] > 0.9
