"""The shared deep-hashing engine: backbones, losses and one training loop for every deep method.

* :mod:`~hashbench.deep.method` — ``DeepHashingMethod``, the base class a method file extends
  with its loss (and, for ADSH, its own batches, database codes and state; for a classifier
  on the codes, its own modules); it imports no torch until a fit runs.
* :mod:`~hashbench.deep.trainer` — the training loop: warm start, hashing phase, validation,
  model selection, checkpoints, encoding.
* :mod:`~hashbench.deep.recipes` — the presets ``scratch`` and ``paper`` and their settings.
* :mod:`~hashbench.deep.backbones` — fully convolutional networks with an N x N region map,
  listed without torch in :mod:`~hashbench.deep.backbone_specs`, each building a
  :mod:`~hashbench.deep.trunk` (HybridHash's in :mod:`~hashbench.deep.hybridhash_network`);
  :mod:`~hashbench.deep.matconvnet` reads CNN-F's ImageNet weights.
* :mod:`~hashbench.deep.augment`, :mod:`~hashbench.deep.losses`,
  :mod:`~hashbench.deep.checkpoint`, :mod:`~hashbench.deep.device` — the pieces they share.
"""
