"""Reading foreign (PyTorch) checkpoints and converting them to Flax NNX."""
