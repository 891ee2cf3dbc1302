"""Training loops of torch models: the epoch loop, the device-resident loop and stacked folds."""
