"""The built-in models as data: name -> ``"module:attribute"`` (imported on first lookup).

:data:`eegbench.models.base.MODELS` is built from these tables, so listing the model names
imports no model module (nor torch). Generated families (one entry per braindecode
architecture, per specialist, per patch embedding) list their names from a cheap source and
build each factory on demand (:class:`~eegbench.registry.Family`).
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

from eegbench.registry import Family

#: Every hand-written built-in model: name -> factory (a function or a model class).
BUILTIN_MODELS: dict[str, str] = {
    "ts_lr": "eegbench.models.classical:tangent_space_lr",
    "csp_lda": "eegbench.models.classical:csp_lda",
    "xdawn_ts_lr": "eegbench.models.classical:xdawn_tangent_space_lr",
    "erp_lda": "eegbench.models.classical:erp_lda",
    "ts_ridge": "eegbench.models.regression:tangent_space_ridge",
    "mean_regressor": "eegbench.models.regression:mean_regressor",
    "fb_ts_lr": "eegbench.models.filterbank:filter_bank_tangent_space_lr",
    "eegnet": "eegbench.models.deep:build_eegnet",
    "patch_transformer": "eegbench.models.patch_transformer:PatchTransformerModel",
    "brain_tokenizer": "eegbench.models.brain_tokenizer:BrainTokenizerModel",
    "braindecode": "eegbench.models.braindecode_zoo:build_braindecode",
    "cbramod": "eegbench.models.foundation:CBraModModel",
    "labram": "eegbench.models.foundation:LaBraMModel",
    "biot": "eegbench.models.foundation:BIOTModel",
    "eegpt": "eegbench.models.foundation:EEGPTModel",
    "reve": "eegbench.models.foundation_zoo:REVEModel",
    "luna": "eegbench.models.foundation_zoo:LUNAModel",
    "signal_jepa": "eegbench.models.foundation_zoo:SignalJEPAModel",
    "bendr": "eegbench.models.foundation_zoo:BENDRModel",
    "codebrain": "eegbench.models.foundation_zoo:CodeBrainModel",
    "eegdino": "eegbench.models.foundation_zoo:EEGDINOModel",
}

#: braindecode specialists trained end to end: name -> (braindecode class, reference).
SPECIALISTS: dict[str, tuple[str, str]] = {
    "shallow_fbcsp": ("ShallowFBCSPNet", "Schirrmeister et al. 2017"),
    "deep4": ("Deep4Net", "Schirrmeister et al. 2017"),
    "eegconformer": ("EEGConformer", "Song et al. 2023"),
    "eeginception_erp": ("EEGInceptionERP", "Santamaria-Vazquez et al. 2020"),
    "atcnet": ("ATCNet", "Altaheri et al. 2023"),
}

#: The patch-embedding study's embeddings (``patch_tf_<embedding>`` models).
PATCH_EMBEDDINGS: tuple[str, ...] = ("linear", "conv", "spectral", "channel_mix")


def braindecode_summary_names() -> list[str]:
    """Model names in braindecode's ``summary.csv``, read without importing braindecode."""
    spec = importlib.util.find_spec("braindecode")
    if spec is None or not spec.submodule_search_locations:
        return []
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "summary.csv"
    if not path.is_file():
        return []
    with open(path, encoding="utf-8-sig") as fh:
        return [row["Model"] for row in csv.DictReader(fh)]


#: Generated families of built-in models.
MODEL_FAMILIES: tuple[Family, ...] = (
    Family(lambda: list(SPECIALISTS), "eegbench.models.deep:specialist_factory"),
    Family(lambda: [f"patch_tf_{e}" for e in PATCH_EMBEDDINGS],
           "eegbench.models.patch_transformer:variant_factory"),
    # ``braindecode.<Class>``: result rows name the architecture
    # (``conf/model/braindecode.yaml`` sets ``name: braindecode.${.params.arch}``)
    Family(lambda: [f"braindecode.{a}" for a in braindecode_summary_names()],
           "eegbench.models.braindecode_zoo:factory_by_name"),
)
