"""What every backbone builds: a trunk, the normalisation its input takes, and its weights files.

The backbones (:mod:`hashbench.deep.backbones`) and HybridHash's network
(:mod:`hashbench.deep.hybridhash_network`) both build a :class:`Trunk`; the table of backbones
builds HybridHash's through its module, so what they share lives here, beneath both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from hashbench.errors import HashbenchError

Channels = tuple[float, float, float]
IMAGENET_MEAN: Channels = (0.485, 0.456, 0.406)
IMAGENET_STD: Channels = (0.229, 0.224, 0.225)


class Trunk(nn.Sequential):
    """A backbone up to its region features: ``features`` channels, one map cell per region."""

    def __init__(self, layers: dict[str, nn.Module], features: int, mean: Channels, std: Channels):
        super().__init__()
        for name, layer in layers.items():
            self.add_module(name, layer)
        self.out_channels = features
        self.mean = mean
        self.std = std


def read_state_dict(path: Path, name: str) -> dict[str, Any]:
    """A weights file's tensors, without running any code it holds; one error line if not."""
    path = Path(path)
    if not path.is_file():
        raise HashbenchError(f"{name} weights file {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise HashbenchError(
            f"cannot read {name} weights from {path} ({type(error).__name__}: {error}); give a "
            "state dict saved by torch.save(model.state_dict(), path)"
        ) from error
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise HashbenchError(f"{path} is not a state dict (a mapping of names to tensors)")
    return state
