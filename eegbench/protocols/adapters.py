"""Deprecated module name, kept so that code written against it still imports.

Use :mod:`eegbench.protocols.calibration` (few-shot calibration) and
:mod:`eegbench.adaptation.layer_probe` (layer-wise probing). Kept so that code written against
the old name still imports; it re-exports both.
"""

from eegbench.adaptation.layer_probe import (  # noqa: F401
    FIRST_PROBE_ADAPTATION,
    layer_features,
    layer_probe,
    layer_probe_rows,
    probe_adaptation,
    probe_candidates,
    probe_layer_names,
)
from eegbench.protocols.calibration import (  # noqa: F401
    CalibrationSpec,
    calibrate,
    finetune_on_shots,
    torch_module,
)
