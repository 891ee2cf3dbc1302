"""Each patch embedding of the ERP study gives its declared token shape on real ERP windows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eegbench.conformance import CHECK_TRAINER
from eegbench.models import SignalSpec, build_model
from eegbench.models.patch_transformer import PATCH_EMBEDDINGS, PatchTransformerEncoder


@pytest.fixture(scope="module")
def p300(data_root, cache_root):
    from eegbench.data.cache import load_windows
    from eegbench.data.recipe import load_recipe
    from eegbench.data.standardize import PreprocessSpec

    return load_windows(load_recipe("muse_visual_p300_eegnotebooks"), data_root,
                        PreprocessSpec(), cache_root, subjects=["4"])


@pytest.mark.parametrize("kind", PATCH_EMBEDDINGS)
def test_token_shape_on_real_erp_windows(p300, kind):
    X = torch.from_numpy(np.asarray(p300.X[:6], dtype=np.float32))
    n_chans, n_times = X.shape[1:]
    enc = PatchTransformerEncoder(n_chans, n_times, kind, patch_size=16, d_model=32,
                                  n_layers=1, n_heads=4).eval()
    n_patches = -(-n_times // 16)
    expected = n_patches if kind == "channel_mix" else n_chans * n_patches
    with torch.no_grad():
        tokens = enc.tokens(X)
    assert tokens.shape == (6, expected, 32) == (6, enc.n_tokens, 32)
    assert torch.isfinite(tokens).all()
    assert enc(X).shape == (6, 32)


def test_variants_train_on_a_real_fold_and_differ(p300):
    X = np.asarray(p300.X, dtype=np.float32)
    y = p300.y
    signal = SignalSpec.from_info(p300.info, X.shape[-1])
    probas = {}
    for kind in ("linear", "spectral"):
        model = build_model(f"patch_tf_{kind}", trainer=CHECK_TRAINER,
                            arch_params={"d_model": 32, "n_layers": 1})
        model.fit(X[::2], y[::2], X[1::2], y[1::2], signal, seed=0)
        probas[kind] = model.predict_proba(X[1::2])
        assert probas[kind].shape == (len(X[1::2]), 2)
    assert not np.allclose(probas["linear"], probas["spectral"])
    with pytest.raises(ValueError, match="'patch_embedding'.*got 'fft'"):
        build_model("patch_transformer", patch_embedding="fft")
