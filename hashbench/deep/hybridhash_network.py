"""HybridHash's network (He, Wei, ICMR 2024; shuaichaochao/HybridHash, model/HybridHash.py):
a NesT hierarchy whose levels are joined by interaction modules, and a hybrid hash layer.

Built from timm's NesT pieces (``NestLevel``: blocked self-attention with per-block position
embeddings; ``PatchEmbed``), so that module names follow timm's ``nest_base`` and NesT-B
weights (``jx_nest_base-8bc41011.pth``) load where the shapes match. The trunk ends before the
hash layer's 1 x 1 convolution: :class:`~hashbench.deep.backbones.HashNetwork` adds that as its
head, and the trainer's mean over the map's cells is HybridHash's spatial average.

One departure from model/HybridHash.py, a bug there: its global attention reshapes an NCHW map
into tokens without the permute it computed, which mixes positions with channels; here the
tokens are the pooled positions.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path
from typing import Any

import torch
from timm.layers import Attention, PatchEmbed, create_conv2d, create_pool2d, trunc_normal_
from timm.models.nest import NestLevel
from torch import nn

from hashbench.deep.hybridhash_shape import check_shape
from hashbench.deep.trunk import IMAGENET_MEAN, IMAGENET_STD, Trunk, read_state_dict
from hashbench.errors import HashbenchError

#: Heads of the global branches, as model/HybridHash.py (fewer where a narrow level's width
#: is no multiple of 8).
GLOBAL_HEADS = 8
NORM = partial(nn.LayerNorm, eps=1e-6)


class ChannelNorm(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW map (NesT's final norm and ConvPool's)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class GlobalAttention(nn.Module):
    """Self-attention across the cells of a small map, with a learned position embedding."""

    def __init__(self, dim: int, tokens: int) -> None:
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens, dim))
        self.attention = Attention(dim, num_heads=math.gcd(GLOBAL_HEADS, dim), qkv_bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        tokens = x.flatten(2).transpose(1, 2) + self.pos_embed
        return self.attention(tokens).transpose(1, 2).reshape(batch, channels, height, width)


class GlobalBranch(nn.Module):
    """Average-pool to one cell per block, attend across the blocks, upsample back."""

    def __init__(self, dim: int, block_size: int, blocks: int) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(block_size)
        self.attention = GlobalAttention(dim, blocks)
        self.upsample = nn.Upsample(scale_factor=block_size, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.attention(self.pool(x)))


class InteractionModule(nn.Module):
    """Between two levels: a local 3 x 3 convolution plus a global branch (1 x 1 convolution,
    then :class:`GlobalBranch` over the previous level's blocks), summed, LayerNorm, 3 x 3
    max-pool by 2. ``conv`` and ``norm`` are named as timm's ConvPool, whose NesT-B weights
    they take."""

    def __init__(self, dim_in: int, dim_out: int, block_size: int, blocks: int) -> None:
        super().__init__()
        self.conv = create_conv2d(dim_in, dim_out, 3, padding="", bias=True)
        self.conv_glo = nn.Conv2d(dim_in, dim_out, 1, bias=False)
        self.global_branch = GlobalBranch(dim_out, block_size, blocks)
        self.norm = ChannelNorm(dim_out, eps=1e-6)
        self.pool = create_pool2d("max", kernel_size=3, stride=2, padding="")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x) + self.global_branch(self.conv_glo(x))
        return self.pool(self.norm(x))


class HashBranches(nn.Module):
    """The hash layer before its 1 x 1 convolution: a local 1 x 3 then 3 x 1 branch plus a
    global branch over the whole map, summed, 3 x 3 max-pool by 2."""

    def __init__(self, dim: int, side: int) -> None:
        super().__init__()
        self.local = nn.Sequential(
            nn.Conv2d(dim, dim, (1, 3), padding=(0, 1)), nn.Conv2d(dim, dim, (3, 1), padding=(1, 0))
        )
        self.global_branch = GlobalBranch(dim, side, 1)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.local(x) + self.global_branch(x))


def build_hybridhash(
    width: float,
    weights: Path | None,
    *,
    image_size: int,
    patch_size: int,
    embed_dims: tuple[int, ...],
    num_heads: tuple[int, ...],
    depths: tuple[int, ...],
    mlp_ratio: float = 4.0,
    drop_path_rate: float = 0.0,
) -> Trunk:
    """The trunk up to the hash layer's projection; NesT-B weights loaded where they fit.

    ``width`` scales every level's embedding (to a multiple of its heads), as it scales the
    other backbones' channels."""
    block_size = check_shape(image_size, patch_size, embed_dims, num_heads, depths)
    levels = len(embed_dims)
    embed_dims = tuple(
        max(heads, round(dim * width / heads) * heads)
        for dim, heads in zip(embed_dims, num_heads, strict=True)
    )
    rates = torch.linspace(0, drop_path_rate, sum(depths)).split(list(depths))
    stages: list[nn.Module] = []
    for i, (dim, heads, depth) in enumerate(zip(embed_dims, num_heads, depths, strict=True)):
        blocks = 4 ** (levels - 1 - i)
        level = NestLevel(
            blocks, block_size, block_size**2, heads, depth, dim,
            mlp_ratio=mlp_ratio, qkv_bias=True, drop_path=rates[i].tolist(),
            norm_layer=NORM, act_layer=nn.GELU,
        )  # fmt: skip
        if i:
            level.pool = InteractionModule(embed_dims[i - 1], dim, block_size, blocks * 4)
        stages.append(level)
    trunk = Trunk(
        {
            "patch_embed": PatchEmbed(image_size, patch_size, 3, embed_dims[0], flatten=False),
            "levels": nn.Sequential(*stages),
            "norm": ChannelNorm(embed_dims[-1], eps=1e-6),
            "hash_branches": HashBranches(embed_dims[-1], block_size),
        },
        features=embed_dims[-1],
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
    )
    initialise(trunk)
    trunk.weights_report = None if weights is None else load_nest_weights(trunk, weights)
    return trunk


def initialise(trunk: nn.Module) -> None:
    """model/HybridHash.py's: truncated normal (std 0.02) weights, zero biases, unit norms."""
    for name, parameter in trunk.named_parameters():
        if name.endswith("pos_embed") and "global_branch" not in name:
            trunc_normal_(parameter, std=0.02, a=-2, b=2)
    for module in trunk.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            trunc_normal_(module.weight, std=0.02, a=-2, b=2)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def load_nest_weights(trunk: nn.Module, path: Path) -> dict[str, Any]:
    """Copy every tensor of a timm-layout NesT state dict whose name and shape fit, as
    HybridHash's train.py (``strict=False``); say what loaded and what did not."""
    state = read_state_dict(path, "hybridhash")
    own = trunk.state_dict()
    fitting = {
        key: value
        for key, value in state.items()
        if key in own and isinstance(value, torch.Tensor) and value.shape == own[key].shape
    }
    if not fitting:
        raise HashbenchError(
            f"{path} matches none of hybridhash's parameters; give a state dict in timm's "
            "nest_base layout (jx_nest_base-8bc41011.pth)"
        )
    trunk.load_state_dict(fitting, strict=False)
    return {
        "file": str(path),
        "loaded": sorted(fitting),
        "not_used": sorted(set(state) - set(fitting)),
        "left_at_initialisation": sorted(set(own) - set(fitting)),
    }
