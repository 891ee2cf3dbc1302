"""Channel harmonization: map a dataset's channels onto the fixed set a model expects.

Foundation models are pre-trained on a fixed, ordered channel list. :func:`channel_mapping`
builds one linear map ``W`` (n_target x n_source) from a dataset's channels to that list:

* a target channel present in the dataset (names compared case-insensitively) is **copied**
  (select + reorder);
* a missing target channel is, by ``policy``:

  - ``"interpolate"``: estimated by MNE's spherical-spline interpolation
    (:meth:`mne.io.Raw.interpolate_bads`) from the dataset's channels, using the dataset's
    electrode positions and the ``montage``'s position for the missing channel (EEG only);
  - ``"zero"``: filled with zeros (the model sees a flat channel);
  - ``"error"``: refused with :class:`ChannelError`.

Dataset channels that are not in the target list are dropped. :meth:`ChannelMapping.apply`
applies ``W`` window by window in chunks, so a memory-mapped dataset is never loaded whole.

Config (``model.channels``; see :func:`harmonize_from_config`)::

    channels:
      names: [Fp1, Fp2, ..., O2]   # the model's channel list, in order
      policy: interpolate          # interpolate | zero | error
      montage: colin27_1005        # positions of missing channels (MNE built-in montage)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import mne
import numpy as np

logger = logging.getLogger(__name__)

POLICIES = ("interpolate", "zero", "error")


class ChannelError(ValueError):
    """The dataset's channels cannot be mapped onto the requested channel set."""


@dataclass(frozen=True)
class ChannelMapping:
    """A linear map from source channels to target channels.

    Attributes
    ----------
    source : tuple of str
        Dataset channel names (columns of ``matrix``).
    target : tuple of str
        Model channel names, in the model's order (rows of ``matrix``).
    matrix : ndarray, shape (n_target, n_source)
        ``target_data = matrix @ source_data``.
    actions : dict
        Target channel -> ``"copy"``, ``"interpolate"`` or ``"zero"``.
    """

    source: tuple[str, ...]
    target: tuple[str, ...]
    matrix: np.ndarray
    actions: dict[str, str] = field(default_factory=dict)

    def apply(self, X: np.ndarray, chunk: int = 512) -> np.ndarray:
        """Map windows ``X`` (n_windows, n_source, n_times) to (n_windows, n_target, n_times).

        Works chunk by chunk, so ``X`` may be a memory map larger than RAM allows at once.
        """
        if X.ndim != 3 or X.shape[1] != len(self.source):
            raise ChannelError(f"Expected windows of shape (n, {len(self.source)}, n_times), "
                               f"got {X.shape}.")
        W = self.matrix.astype(np.float32)
        out = np.empty((X.shape[0], len(self.target), X.shape[2]), dtype=np.float32)
        for start in range(0, X.shape[0], chunk):
            block = np.asarray(X[start : start + chunk], dtype=np.float32)
            out[start : start + chunk] = np.einsum("ts,nsx->ntx", W, block)
        return out


def _montage_positions(montage: str) -> dict[str, np.ndarray]:
    """Return lower-case name -> head-frame position, as ``set_montage`` stores them.

    (A montage's own ``get_positions()`` may be in another frame than ``info['chs']``.)
    """
    mont = mne.channels.make_standard_montage(montage)
    info = mne.create_info(mont.ch_names, 1.0, "eeg")
    info.set_montage(mont, verbose="error")
    return {ch["ch_name"].lower(): ch["loc"][:3].copy() for ch in info["chs"]}


def _interpolation_rows(source: Sequence[str], source_pos: Mapping[str, Sequence[float]],
                        missing: Sequence[str], montage: str) -> np.ndarray:
    """Return the spherical-spline rows (n_missing x n_source) computed by MNE.

    Interpolation is linear in the data, so interpolating an identity "recording" (source
    channel ``i`` is 1 at sample ``i``) yields the interpolation matrix itself.
    """
    bad_pos = [ch for ch in source if not np.all(np.isfinite(source_pos.get(ch, [np.nan])))]
    if bad_pos:
        raise ChannelError(f"Cannot interpolate: source channel(s) {bad_pos} have no position "
                           "(the recipe sets no montage); use policy 'zero' or 'error'.")
    template = _montage_positions(montage)
    unknown = [ch for ch in missing if ch.lower() not in template]
    if unknown:
        raise ChannelError(f"Cannot interpolate channel(s) {unknown}: not in montage "
                           f"{montage!r}; pick another montage or policy 'zero'.")
    names = list(source) + list(missing)
    info = mne.create_info(names, sfreq=1.0, ch_types="eeg")
    data = np.zeros((len(names), len(source)))
    data[: len(source)] = np.eye(len(source))
    raw = mne.io.RawArray(data, info, verbose="error")
    positions = {ch: np.asarray(source_pos[ch], dtype=float) for ch in source}
    positions.update({ch: template[ch.lower()] for ch in missing})
    raw.set_montage(mne.channels.make_dig_montage(ch_pos=positions, coord_frame="head"),
                    verbose="error")
    raw.info["bads"] = list(missing)
    raw.interpolate_bads(reset_bads=True, mode="accurate", verbose="error")
    return raw.get_data()[len(source) :]


def channel_mapping(
    source: Sequence[str],
    target: Sequence[str],
    policy: str = "interpolate",
    source_pos: Mapping[str, Sequence[float]] | None = None,
    source_types: Sequence[str] | None = None,
    montage: str = "colin27_1005",
) -> ChannelMapping:
    """Build the map from ``source`` channels to the ``target`` channel list.

    Parameters
    ----------
    source : sequence of str
        The dataset's channel names (``WindowsDataset.info['ch_names']``).
    target : sequence of str
        The channel names the model expects, in its order.
    policy : {"interpolate", "zero", "error"}
        What to do with target channels the dataset lacks (see the module docstring).
    source_pos : mapping, optional
        Channel name -> head-frame position in metres (``info['ch_pos']``); needed for
        ``"interpolate"``.
    source_types : sequence of str, optional
        MNE channel types of ``source``; interpolation is refused for non-EEG channels.
    montage : str
        MNE built-in montage giving the positions of missing target channels.

    Returns
    -------
    ChannelMapping

    Raises
    ------
    ChannelError
        If a channel is missing and ``policy`` is ``"error"``, or interpolation is impossible
        (no positions, non-EEG sensors, channel not in ``montage``).
    """
    if policy not in POLICIES:
        raise ChannelError(f"Invalid value for the 'policy' parameter. Allowed values are "
                           f"{list(POLICIES)}, but got {policy!r}.")
    source, target = list(source), list(target)
    lower = {ch.lower(): i for i, ch in enumerate(source)}
    if len(lower) != len(source) or len({t.lower() for t in target}) != len(target):
        raise ChannelError("Channel names must be unique (case-insensitively) in both the "
                           f"source {source} and the target {target}.")
    matrix = np.zeros((len(target), len(source)))
    actions: dict[str, str] = {}
    missing = []
    for row, ch in enumerate(target):
        if ch.lower() in lower:
            matrix[row, lower[ch.lower()]] = 1.0
            actions[ch] = "copy"
        else:
            missing.append(ch)
    if missing:
        if policy == "error":
            raise ChannelError(f"Channel(s) {missing} required by the model are missing from "
                               f"the dataset, which has {source} (policy 'error').")
        if policy == "interpolate":
            types = set(source_types or ["eeg"])
            if types != {"eeg"}:
                raise ChannelError(f"Cannot interpolate {missing}: spherical-spline "
                                   f"interpolation is for EEG only, the dataset has sensor "
                                   f"types {sorted(types)}; use policy 'zero' or 'error'.")
            rows = _interpolation_rows(source, source_pos or {}, missing, montage)
            for ch, values in zip(missing, rows, strict=True):
                matrix[target.index(ch)] = values
                actions[ch] = "interpolate"
        else:
            for ch in missing:
                actions[ch] = "zero"
        logger.info("channel harmonization: %d copied, %d %s (%s); %d dataset channel(s) "
                    "dropped", len(target) - len(missing), len(missing),
                    "interpolated" if policy == "interpolate" else "zero-filled",
                    ", ".join(missing),
                    len([c for c in source if c.lower() not in {t.lower() for t in target}]))
    return ChannelMapping(tuple(source), tuple(target), matrix, actions)


def harmonize(ds: Any, target: Sequence[str], policy: str = "interpolate",
              montage: str = "colin27_1005") -> Any:
    """Return a copy of a :class:`~eegbench.data.cache.WindowsDataset` on ``target`` channels.

    ``info`` gains ``channel_actions`` (target channel -> copy/interpolate/zero); ``ch_pos``
    and ``ch_types`` follow the target list (missing channels take the montage position and
    the EEG type).
    """
    info = ds.info
    mapping = channel_mapping(info["ch_names"], target, policy, info.get("ch_pos"),
                              info.get("ch_types"), montage)
    src_lower = {c.lower(): c for c in info["ch_names"]}
    types = dict(zip(info["ch_names"], info.get("ch_types", []), strict=False))
    template: dict[str, np.ndarray] | None = None
    ch_pos, ch_types = {}, []
    for ch in mapping.target:
        src = src_lower.get(ch.lower())
        if src is not None:
            ch_pos[ch] = list(info.get("ch_pos", {}).get(src, [np.nan] * 3))
            ch_types.append(types.get(src, "eeg"))
        else:
            template = template or _montage_positions(montage)
            ch_pos[ch] = [float(v) for v in template.get(ch.lower(), [np.nan] * 3)]
            ch_types.append("eeg")
    new_info = {**info, "ch_names": list(mapping.target), "ch_pos": ch_pos,
                "ch_types": ch_types, "channel_actions": mapping.actions}
    new_info.pop("ch_loc", None)
    return replace(ds, X=mapping.apply(ds.X), info=new_info)


def harmonize_from_config(ds: Any, node: Mapping[str, Any] | None) -> Any:
    """Apply ``harmonize`` as configured by a ``channels`` node; ``None`` returns ``ds``."""
    if not node or not node.get("names"):
        return ds
    return harmonize(ds, list(node["names"]), str(node.get("policy", "interpolate")),
                     str(node.get("montage", "colin27_1005")))
