"""eegbench: an honest EEG/ERP/MEG foundation-model benchmark on real public data."""

import logging

__version__ = "0.1.0"

logger = logging.getLogger("eegbench")
logger.addHandler(logging.NullHandler())

__all__ = ["__version__", "logger"]
