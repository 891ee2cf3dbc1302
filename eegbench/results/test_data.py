"""What a result row's model saw of its test subject's data before it was scored.

An *inductive* row is scored on test windows that nothing in the pipeline saw before; a
*transductive* row used the test subject's windows (never their labels) to fit something:
the alignment reference of ``protocol.align``, or a pretraining corpus that contains the
evaluation recording. The label is read from the row's stored configuration alone, so that
every table can show it and compare like with like.

Options that look at test-time statistics but do not use test data are inductive:
``trainer.bn_reestimate`` re-estimates BatchNorm statistics on the *training* windows
(:func:`eegbench.adaptation.batchnorm.reestimate_batchnorm`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Inductive: the test subject's windows are used only to be scored.
INDUCTIVE = "none"
#: Transductive: the test subject's (unlabeled) test windows were used before scoring.
TEST_WINDOWS = "unlabeled test windows"
#: A declared first segment of the test subject's data was used and then left out of scoring.
CALIBRATION_SEGMENT = "unlabeled calibration segment (not scored)"
#: Every value :func:`test_data_use` returns.
TEST_DATA_USES = (INDUCTIVE, TEST_WINDOWS, CALIBRATION_SEGMENT)

#: ``protocol.align_reference`` values: the alignment reference is estimated on all of the
#: test subject's windows (``all``, the default) or on a calibration segment only.
ALIGN_REFERENCE_ALL = "all"
ALIGN_REFERENCE_CALIBRATION = "calibration"

#: Pretrained checkpoints whose pretraining corpus holds an evaluation recording: (model
#: name, a marker of the checkpoint's file name) -> recordings (dataset recipes) in the corpus
#: that are also evaluated. The VQ tokenizer pretrained on EEG + MEG
#: (``conf/exp/pretrain_tokenizer_eeg_meg.yaml``) saw the single-subject MEG recording it is
#: then probed on.
PRETRAINED_ON_EVALUATION_DATA: dict[tuple[str, str], tuple[str, ...]] = {
    ("brain_tokenizer", "eeg_meg"): ("meg_elekta_3ch",),
}


def _section(config: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = config.get(name)
    return value if isinstance(value, Mapping) else {}


def _is_set(value: Any) -> bool:
    """An option is off when absent, null, false, empty or "none"."""
    if value is None or value is False:
        return False
    return not (isinstance(value, str) and value.strip().lower() in ("", "none", "false"))


def _alignment_use(protocol: Mapping[str, Any]) -> str:
    if not _is_set(protocol.get("align")):
        return INDUCTIVE
    reference = protocol.get("align_reference")
    if reference is None or str(reference) == ALIGN_REFERENCE_ALL:
        return TEST_WINDOWS
    if str(reference) == ALIGN_REFERENCE_CALIBRATION:
        return CALIBRATION_SEGMENT
    raise ValueError(f"protocol.align_reference: expected {ALIGN_REFERENCE_ALL!r} or "
                     f"{ALIGN_REFERENCE_CALIBRATION!r}, found {reference!r}.")


def _pretraining_use(config: Mapping[str, Any]) -> str:
    model = _section(config, "model")
    params = _section(model, "params")
    checkpoint = params.get("checkpoint")
    dataset = _section(config, "dataset")
    recipe = str(dataset.get("recipe") or dataset.get("name") or "")
    if not isinstance(checkpoint, str) or not recipe:
        return INDUCTIVE
    stem = checkpoint.replace("\\", "/").rsplit("/", 1)[-1]
    for (name, marker), recordings in PRETRAINED_ON_EVALUATION_DATA.items():
        if str(model.get("name")) == name and marker in stem and recipe in recordings:
            return TEST_WINDOWS
    return INDUCTIVE


def test_data_use(row: Mapping[str, Any]) -> str:
    """Return how a row used its test subject's data before scoring.

    Parameters
    ----------
    row : mapping
        A result row (:class:`eegbench.results.row.ResultRow` as a dict) or a row of a results
        frame; its ``config`` (the stored configuration) is read. Rows without a stored
        configuration (schema < 3) predate every transductive option and are inductive.

    Returns
    -------
    str
        One of :data:`TEST_DATA_USES`: ``"none"`` (inductive); ``"unlabeled test windows"``
        (``protocol.align`` set with ``protocol.align_reference`` absent or ``all``: the
        alignment reference is estimated on every window of the test subject, the scored ones
        included; or a pretraining corpus that holds the evaluated recording);
        ``"unlabeled calibration segment (not scored)"`` (``protocol.align_reference:
        calibration``: the reference comes from a first segment of the test subject's data
        that is then left out of scoring).

    Raises
    ------
    ValueError
        If ``protocol.align_reference`` has an unknown value.
    """
    config = row.get("config")
    if not isinstance(config, Mapping):
        return INDUCTIVE
    use = _alignment_use(_section(config, "protocol"))
    if use == INDUCTIVE:
        use = _pretraining_use(config)
    return use


def is_inductive(row: Mapping[str, Any]) -> bool:
    """True if the row used none of its test subject's data before scoring."""
    return test_data_use(row) == INDUCTIVE
