"""The shared deep-hashing engine: backbones, losses and one training loop for every deep method.

* :mod:`~hashbench.deep.method` — ``DeepHashingMethod``, the base class a method file extends
  with its loss (and, for ADSH, its own batches, database codes and state).
* :mod:`~hashbench.deep.trainer` — the training loop: warm start, hashing phase, validation,
  model selection, checkpoints, encoding.
* :mod:`~hashbench.deep.recipes` — the presets ``scratch`` and ``paper`` and their settings.
* :mod:`~hashbench.deep.backbones` — fully convolutional networks with an N x N region map;
  :mod:`~hashbench.deep.matconvnet` reads CNN-F's ImageNet weights.
* :mod:`~hashbench.deep.augment`, :mod:`~hashbench.deep.losses`,
  :mod:`~hashbench.deep.checkpoint`, :mod:`~hashbench.deep.device` — the pieces they share.
"""
