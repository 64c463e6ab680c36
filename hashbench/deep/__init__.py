"""The shared deep-hashing engine: backbones, losses and one training loop for every deep method."""
