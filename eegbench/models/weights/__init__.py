"""Pretrained weights: the known checkpoints, the Hub download and loading into a model."""
