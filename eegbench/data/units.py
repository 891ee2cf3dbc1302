"""Standard units of the stored windows, per MNE sensor type (see :mod:`eegbench.data.standardize`).

==========================  ==========  ===================
sensor type (MNE)           SI unit     stored unit
==========================  ==========  ===================
eeg, eog, ecg, emg          V           uV  (x 1e6)
mag (magnetometer)          T           fT  (x 1e15)
grad (planar gradiometer)   T/m         fT/cm (x 1e13)
==========================  ==========  ===================
"""

from __future__ import annotations

#: Scale factors from SI units to the stored unit, per sensor type.
UNIT_SCALE = {"eeg": 1e6, "eog": 1e6, "ecg": 1e6, "emg": 1e6, "mag": 1e15, "grad": 1e13}
#: Name of the stored unit, per sensor type.
UNIT_NAME = {"eeg": "uV", "eog": "uV", "ecg": "uV", "emg": "uV", "mag": "fT", "grad": "fT/cm"}
