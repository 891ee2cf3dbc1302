"""Each row says how it used its test subject's data: inductive, test windows, calibration."""

from __future__ import annotations

import pytest

from eegbench.results.test_data import (
    CALIBRATION_SEGMENT,
    INDUCTIVE,
    TEST_WINDOWS,
    is_inductive,
)
from eegbench.results.test_data import (
    test_data_use as use_of,
)


def _row(protocol=None, model=None, dataset=None):
    return {"config": {"protocol": {"name": "loso", **(protocol or {})},
                       "model": model or {"name": "ts_lr", "params": {}},
                       "dataset": dataset or {"name": "physionet_eegmat",
                                              "recipe": "physionet_eegmat"},
                       "trainer": {"bn_reestimate": True}}}


@pytest.mark.parametrize(("protocol", "expected"), [
    ({}, INDUCTIVE),
    ({"align": None}, INDUCTIVE),
    ({"align": "none"}, INDUCTIVE),
    ({"align": "riemannian"}, TEST_WINDOWS),
    ({"align": "euclidean", "align_reference": "all"}, TEST_WINDOWS),
    ({"align": "riemannian_recentre", "align_reference": "calibration",
      "align_calibration_s": 60}, CALIBRATION_SEGMENT),
])
def test_alignment_options(protocol, expected):
    assert use_of(_row(protocol)) == expected
    assert is_inductive(_row(protocol)) == (expected == INDUCTIVE)


def test_unknown_reference_is_an_error_naming_the_key():
    with pytest.raises(ValueError, match="protocol.align_reference.*'subject'"):
        use_of(_row({"align": "euclidean", "align_reference": "subject"}))


def test_rows_without_config_and_batchnorm_reestimation_are_inductive():
    assert use_of({"config": None}) == INDUCTIVE
    assert use_of({}) == INDUCTIVE
    assert use_of(_row()) == INDUCTIVE  # bn_reestimate uses the training windows


def test_tokenizer_pretrained_on_the_evaluated_meg_recording_is_transductive():
    tokenizer = {"name": "brain_tokenizer",
                 "params": {"checkpoint": "runs/studies/pretrain/brain_tokenizer_eeg_meg.pt"}}
    meg = {"name": "meg_elekta_3ch", "recipe": "meg_elekta_3ch"}
    assert use_of(_row(model=tokenizer, dataset=meg)) == TEST_WINDOWS
    eeg_only = {"name": "brain_tokenizer",
                "params": {"checkpoint": "runs/studies/pretrain/brain_tokenizer_eeg_only.pt"}}
    assert use_of(_row(model=eeg_only, dataset=meg)) == INDUCTIVE
    assert use_of(_row(model=tokenizer)) == INDUCTIVE  # evaluated on eegmat: not in it
