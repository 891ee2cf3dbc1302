"""Label-free subject alignment, for every model family (``protocol.align``).

Cross-subject shift is largely a change of each subject's spatial covariance. Alignment moves
every subject's data so that a reference computed from that subject's *unlabelled* windows
becomes the identity. Three methods (``protocol.align``):

* ``euclidean``: Euclidean alignment of the input signals (He & Wu 2020, IEEE TBME
  67(2):399-410, doi:10.1109/TBME.2019.2913914). ``R`` = arithmetic mean of the per-window
  covariances, every window ``X -> R^-1/2 X``. Works for any model (applied to the windows).
* ``riemannian_recentre``: the textbook Riemannian re-centring of covariance pipelines (Zanini
  et al. 2018, IEEE TBME 65(5):1107-1116, doi:10.1109/TBME.2017.2742541): each covariance
  ``C -> M^-1/2 C M^-1/2`` with ``M`` the Riemannian (affine-invariant) mean of the subject's
  covariances, computed by the pipeline's own covariance step (one mean per band for a filter
  bank). Only for models whose fold-invariant features are covariances (``ts_lr``,
  ``fb_ts_lr``); any other model is an error.
* ``riemannian``: the signals are whitened by the Riemannian mean of shrinkage covariances and
  the pipeline re-estimates its covariances from the whitened signals. Not the textbook
  re-centring (shrinkage is not affine-equivariant), kept because committed rows use it.

Window covariances of the reference are OAS shrinkage estimates (Chen et al. 2010) by default;
He & Wu use the sample covariance (``estimator="scm"``, for which the aligned windows' mean
covariance is exactly the identity).

Which windows form the reference (``protocol.align_reference``):

* ``all``: every window of the subject. For the test subject this is transductive: its
  unlabelled test windows shape its own alignment (the rows use test data, unlabelled).
* ``calibration``: for *every* subject (training and test alike) the windows that lie within
  the first ``protocol.align_calibration_s`` seconds (default 60) of its first recording (in
  session, run order). Those windows are removed from every fold: they are neither scored for
  the test subject nor trained or validated on for the other subjects, so a calibration row
  scores only windows that played no part in any alignment. A subject whose first segment holds
  no whole window, or holds all of its windows, is an error.

No label is ever read: the reference depends on the windows and their timing only.
Covariances and means come from pyriemann.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pyriemann.utils.base import invsqrtm
from pyriemann.utils.covariance import covariances
from pyriemann.utils.mean import mean_euclid, mean_riemann

from eegbench.protocols.splitters import Fold

logger = logging.getLogger(__name__)

#: Methods that transform the input signals (any model).
SIGNAL_METHODS = ("euclidean", "riemannian")
#: Methods that transform a covariance pipeline's features.
COVARIANCE_METHODS = ("riemannian_recentre",)
METHODS = SIGNAL_METHODS + COVARIANCE_METHODS
REFERENCES = ("all", "calibration")
#: Default calibration segment (s). eegmat's first recording of each subject is about 180 s of
#: rest (Zyma et al. 2019, Data 4(1):14); 60 s is a third of it, fixed a priori (not tuned).
DEFAULT_CALIBRATION_S = 60.0
#: Protocol keys read here, with their defaults (a key at its default is left out of the
#: configuration hash, so rows computed before the key existed keep their identity).
PROTOCOL_DEFAULTS: dict[str, Any] = {"align": None, "align_reference": "all",
                                     "align_calibration_s": DEFAULT_CALIBRATION_S}
#: Models whose fold-invariant features are covariances (named in the error of
#: ``riemannian_recentre`` for any other model).
COVARIANCE_MODELS = ("ts_lr", "fb_ts_lr")


@dataclasses.dataclass(frozen=True)
class AlignmentSpec:
    """The configured alignment: method, reference and calibration length.

    Attributes
    ----------
    method : str or None
        One of :data:`METHODS`, or None (no alignment).
    reference : {"all", "calibration"}
        Which windows of each subject form its reference (see the module docstring).
    calibration_s : float
        Length of the calibration segment in seconds (``reference="calibration"`` only).
    """

    method: str | None = None
    reference: str = "all"
    calibration_s: float = DEFAULT_CALIBRATION_S

    def __post_init__(self) -> None:
        if self.method is not None and self.method not in METHODS:
            raise ValueError(f"Invalid value for the 'protocol.align' parameter. Allowed values "
                             f"are {list(METHODS)} or null, but got {self.method!r}.")
        if self.reference not in REFERENCES:
            raise ValueError(f"Invalid value for the 'protocol.align_reference' parameter. "
                             f"Allowed values are {list(REFERENCES)}, but got "
                             f"{self.reference!r}.")
        if not float(self.calibration_s) > 0:
            raise ValueError(f"Invalid value for the 'protocol.align_calibration_s' parameter: "
                             f"expected seconds > 0, got {self.calibration_s!r}.")

    @classmethod
    def pop_from(cls, protocol: dict[str, Any]) -> AlignmentSpec:
        """Remove the alignment keys from a protocol mapping and return their spec."""
        values = {key: protocol.pop(key, default) for key, default in PROTOCOL_DEFAULTS.items()}
        method = values["align"]
        return cls(None if method is None else str(method), str(values["align_reference"]),
                   float(values["align_calibration_s"]))

    @property
    def uses_calibration(self) -> bool:
        """Whether a calibration segment is the reference (and left out of every fold)."""
        return self.method is not None and self.reference == "calibration"


def reference_covariance(X: np.ndarray, method: str, estimator: str = "oas") -> np.ndarray:
    """Return the reference covariance of windows ``X`` (n_windows, n_channels, n_times).

    ``euclidean``: arithmetic mean of the window covariances; ``riemannian``: their
    Riemannian mean.
    """
    if method not in SIGNAL_METHODS:
        raise ValueError(f"Invalid value for the 'protocol.align' parameter of a signal "
                         f"alignment. Allowed values are {list(SIGNAL_METHODS)}, but got "
                         f"{method!r}.")
    covs = covariances(np.asarray(X, dtype=np.float64), estimator=estimator)
    return mean_euclid(covs) if method == "euclidean" else mean_riemann(covs)


def calibration_mask(meta: pd.DataFrame, calibration_s: float, window_s: float) -> np.ndarray:
    """Return a boolean mask of each subject's calibration windows.

    A window belongs to the calibration segment when it lies wholly within the first
    ``calibration_s`` seconds of its subject's first recording (smallest ``session``, then
    ``run``; ``onset_s`` from the recording's start). Labels are not read.

    Raises
    ------
    ValueError
        If a column is missing, or a subject has no whole window in the segment or no window
        outside it.
    """
    missing = [c for c in ("subject", "onset_s") if c not in meta]
    if missing:
        raise ValueError(f"protocol.align_reference=calibration needs window metadata columns "
                         f"{missing} (found {list(meta.columns)}).")
    subjects = meta["subject"].astype(str).to_numpy()
    session = (meta["session"] if "session" in meta else pd.Series("0", index=meta.index))
    run = meta["run"] if "run" in meta else pd.Series("0", index=meta.index)
    recording = np.array([f"{s}\x00{r}" for s, r in zip(session.astype(str), run.astype(str),
                                                        strict=True)])
    ends = meta["onset_s"].to_numpy(dtype=float) + float(window_s)
    mask = np.zeros(len(meta), dtype=bool)
    for subject in np.unique(subjects):
        mine = subjects == subject
        first = min(recording[mine])
        chosen = mine & (recording == first) & (ends <= float(calibration_s) + 1e-9)
        if not chosen.any():
            raise ValueError(f"subject {subject}: no whole {window_s:g}-s window lies within "
                             f"the first {calibration_s:g} s of its first recording "
                             f"(protocol.align_calibration_s); lengthen the segment.")
        if chosen.sum() == mine.sum():
            raise ValueError(f"subject {subject} has {int(mine.sum())} window(s), all within "
                             f"the {calibration_s:g}-s calibration segment "
                             f"(protocol.align_calibration_s): none would be left to score.")
        mask |= chosen
    return mask


def reference_mask(meta: pd.DataFrame, spec: AlignmentSpec, window_s: float) -> np.ndarray:
    """Return the mask of the windows that form their subject's reference."""
    if spec.reference == "calibration":
        return calibration_mask(meta, spec.calibration_s, window_s)
    return np.ones(len(meta), dtype=bool)


def align_subjects(X: np.ndarray, meta: pd.DataFrame, method: str, estimator: str = "oas",
                   reference: np.ndarray | None = None) -> np.ndarray:
    """Return a float32 copy of ``X`` with every subject whitened by its own reference.

    Parameters
    ----------
    X : ndarray, shape (n_windows, n_channels, n_times)
        Windows (any units; the alignment makes them unit-free).
    meta : DataFrame
        Metadata with a ``subject`` column (labels are not read).
    method : {"euclidean", "riemannian"}
        Mean used for the reference covariance.
    estimator : str
        pyriemann covariance estimator of each window (``oas``: shrinkage, well conditioned
        for short windows; ``scm``: the sample covariance of He & Wu 2020).
    reference : ndarray of bool, optional
        Windows that form their subject's reference (default: all).
    """
    reference = np.ones(len(X), dtype=bool) if reference is None else np.asarray(reference)
    out = np.empty(X.shape, dtype=np.float32)
    subjects = meta["subject"].astype(str).to_numpy()
    for subject in np.unique(subjects):
        idx = np.flatnonzero(subjects == subject)
        ref = idx[reference[idx]]
        W = invsqrtm(reference_covariance(X[ref], method, estimator))
        out[idx] = np.einsum("ij,njt->nit", W, np.asarray(X[idx], dtype=np.float64))
    logger.info("aligned %d subject(s) (%s, no labels used)", len(np.unique(subjects)), method)
    return out


def recentre_covariances(F: np.ndarray, meta: pd.DataFrame,
                         reference: np.ndarray | None = None) -> np.ndarray:
    """Return covariances ``C -> M^-1/2 C M^-1/2``, ``M`` the subject's Riemannian mean.

    Parameters
    ----------
    F : ndarray, shape (n_windows, n, n) or (n_windows, n_bands, n, n)
        SPD matrices of each window (one per band for a filter bank: one mean per band).
    meta : DataFrame
        Metadata with a ``subject`` column (labels are not read).
    reference : ndarray of bool, optional
        Windows that form their subject's reference (default: all).
    """
    F = np.asarray(F, dtype=np.float64)
    reference = np.ones(len(F), dtype=bool) if reference is None else np.asarray(reference)
    banded = F.ndim == 4
    stack = F if banded else F[:, None]
    out = np.empty_like(stack)
    subjects = meta["subject"].astype(str).to_numpy()
    for subject in np.unique(subjects):
        idx = np.flatnonzero(subjects == subject)
        ref = idx[reference[idx]]
        for band in range(stack.shape[1]):
            W = invsqrtm(mean_riemann(stack[ref, band]))
            out[idx, band] = W @ stack[idx, band] @ W
    logger.info("re-centred the covariances of %d subject(s) on their Riemannian means "
                "(no labels used)", len(np.unique(subjects)))
    return out if banded else out[:, 0]


def is_covariance_features(F: Any) -> bool:
    """Whether ``F`` looks like stacked symmetric matrices (a covariance pipeline's features)."""
    if not isinstance(F, np.ndarray) or F.ndim not in (3, 4) or F.shape[-1] != F.shape[-2]:
        return False
    sample = F[: min(len(F), 8)]
    return bool(np.allclose(sample, np.swapaxes(sample, -1, -2)))


@dataclasses.dataclass
class SubjectAlignment:
    """The alignment of one dataset: what the job applies to windows, features and folds.

    Built by :func:`prepare`; ``excluded`` marks the calibration windows left out of every
    fold (none unless ``spec.uses_calibration``).
    """

    spec: AlignmentSpec
    reference: np.ndarray
    excluded: np.ndarray

    def recentre_features(self, features: np.ndarray | None, meta: pd.DataFrame,
                          model_name: str) -> np.ndarray | None:
        """Re-centre a covariance pipeline's features (``riemannian_recentre`` only).

        Raises
        ------
        ValueError
            With ``riemannian_recentre``, if the model has no covariance features (or the
            feature cache is off).
        """
        if self.spec.method not in COVARIANCE_METHODS:
            return features
        if not is_covariance_features(features):
            raise ValueError(f"protocol.align=riemannian_recentre re-centres the covariances "
                             f"of a covariance pipeline (models {list(COVARIANCE_MODELS)}, with "
                             f"feature_cache=true); model {model_name!r} has no covariance "
                             f"features. Use protocol.align=euclidean for other models.")
        return recentre_covariances(features, meta, self.reference)

    def drop_excluded(self, folds: Sequence[Fold]) -> list[Fold]:
        """Return the folds without the calibration windows (in no part of any fold)."""
        if not self.excluded.any():
            return list(folds)
        keep = ~self.excluded

        def kept(idx: np.ndarray) -> np.ndarray:
            idx = np.asarray(idx, dtype=int)
            return idx[keep[idx]]

        return [dataclasses.replace(fold, train=kept(fold.train), valid=kept(fold.valid),
                                    test=kept(fold.test), calib=kept(fold.calib))
                for fold in folds]


def prepare(X: np.ndarray, meta: pd.DataFrame, info: Mapping[str, Any],
            spec: AlignmentSpec) -> tuple[np.ndarray, SubjectAlignment]:
    """Return the (aligned) windows and the alignment the job applies later.

    Signal methods return aligned float32 windows; ``riemannian_recentre`` and no alignment
    return ``X`` unchanged (the features are re-centred by
    :meth:`SubjectAlignment.recentre_features`).
    """
    meta = meta.reset_index(drop=True)
    if spec.method is None:
        none = np.zeros(len(meta), dtype=bool)
        return X, SubjectAlignment(spec, ~none, none)
    window_s = X.shape[-1] / float(info["sfreq"])
    reference = reference_mask(meta, spec, window_s)
    excluded = reference.copy() if spec.uses_calibration else np.zeros(len(meta), dtype=bool)
    if spec.uses_calibration:
        logger.info("alignment reference: the first %g s of each subject (%d window(s)), left "
                    "out of every fold", spec.calibration_s, int(excluded.sum()))
    if spec.method in SIGNAL_METHODS:
        X = align_subjects(X, meta, spec.method, reference=reference)
    return X, SubjectAlignment(spec, reference, excluded)
