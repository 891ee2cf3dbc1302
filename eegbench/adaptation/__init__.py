"""How a model learns from a fold's data: probing, fine-tuning, LP-FT, parameter-efficient methods.

Protocols (:mod:`eegbench.protocols`) decide *which* windows a fold trains, validates and
tests on; this package decides *how* the model learns from them.
"""
