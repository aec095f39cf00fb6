"""Backbones, the classifier built on them, checkpoints on disk and ensembles of them."""
