"""A frozen encoder as a fold-invariant feature transform (linear probes computed once).

Under ``linear_probe`` a foundation model's encoder is frozen and identical in every fold: the
pretrained weights (or, under ``model.params.init=random``, the weights drawn from the run's
seed) do not depend on the test subject. Its readout of a window is therefore the same in every
fold, and :mod:`eegbench.features.precompute` can compute it once per dataset and seed, as it
does for the covariance steps of classical pipelines. Each fold then only fits the probe.

The cache key (:func:`eegbench.features.precompute.transform_fingerprint`) sees
:meth:`FrozenEncoderTransform.get_params`: the sha256 of every weight and buffer of the
adapter and encoder (so a changed checkpoint, seed or initialisation never reuses features),
the input contract and the adapter's output geometry (a checkpoint's scaling or sampling rate),
the readout, and the code fingerprint (:func:`eegbench.code_fingerprint.code_fingerprint`, the
helper that keys result rows) of the modules defining the classifier, adapter, encoder and
network, with the versions of the numerical libraries.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import numpy as np
import torch
from torch import nn

from eegbench.code_fingerprint import code_fingerprint


def module_weights_sha256(module: nn.Module) -> str:
    """Return the sha256 of ``module``'s state dict (names, shapes, dtypes and bytes)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tuple(t.shape)}|{t.dtype}|".encode())
        # reshape: 0-d tensors (scalar buffers, e.g. LUNA's) cannot be viewed as bytes
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


class FrozenEncoderTransform:
    """``window -> adapter -> frozen encoder -> readout``, as a transform of float windows.

    Parameters
    ----------
    module : EncoderClassifier
        The built model (encoder frozen, eval mode); only ``forward_features`` is used.
    model_name : str
        The model's class name (part of the cache key).
    batch_size : int
        Windows per forward pass inside one :meth:`transform` call.
    """

    def __init__(self, module: nn.Module, model_name: str, batch_size: int = 64) -> None:
        self.module = module
        self.model_name = model_name
        self.batch_size = int(batch_size)

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        """Describe what determines the features (scikit-learn style, for the cache key)."""
        module = self.module
        adapter = module.adapter
        contract = getattr(adapter, "contract", None)
        classes = [type(m).__module__ for m in (module, adapter, module.encoder,
                                                getattr(module.encoder, "net", None))
                   if m is not None]
        code = code_fingerprint(classes)
        return {
            "model": self.model_name,
            "encoder_class": f"{type(module.encoder).__module__}."
                             f"{type(module.encoder).__qualname__}",
            "weights_sha256": module_weights_sha256(nn.ModuleDict(
                {"adapter": module.adapter, "encoder": module.encoder})),
            "readout": getattr(module.encoder, "readout",
                               getattr(module.head_spec, "readout", None)),
            "n_features": int(module.n_features),
            "contract": json.loads(json.dumps(dataclasses.asdict(contract), sort_keys=True,
                                              default=repr)) if contract is not None else None,
            "adapter_output": [list(getattr(adapter, "out_ch_names", [])),
                               getattr(adapter, "out_sfreq", None),
                               getattr(adapter, "out_times", None)],
            "code": code.source_digest,
            "versions": code.versions,
        }

    @torch.no_grad()
    def transform(self, X: np.ndarray) -> np.ndarray:
        """Return the frozen encoder's features of ``X`` (float32, (n_windows, n_features))."""
        self.module.eval()
        device = next(self.module.parameters()).device
        out = []
        for start in range(0, len(X), self.batch_size):
            xb = torch.as_tensor(np.asarray(X[start:start + self.batch_size]),
                                 dtype=torch.float32, device=device)
            out.append(self.module.forward_features(xb).cpu().numpy())
        if not out:
            return np.empty((0, self.module.n_features), np.float32)
        return np.concatenate(out)
