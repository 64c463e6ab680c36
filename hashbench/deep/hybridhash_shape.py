"""HybridHash's network shape, checked without building the network (which needs timm): a
method checks its settings when it is created, before any data is loaded."""

from __future__ import annotations

from collections.abc import Sequence

from hashbench.errors import HashbenchError


def check_shape(
    image_size: int,
    patch_size: int,
    embed_dims: Sequence[int],
    num_heads: Sequence[int],
    depths: Sequence[int],
) -> int:
    """The side of a level's blocks, in tokens; an error for a shape the levels cannot take."""
    levels = len(embed_dims)
    if not len(num_heads) == len(depths) == levels:
        raise HashbenchError(
            f"hybridhash: embed_dims, num_heads and depths need one entry per level, got "
            f"{len(embed_dims)}, {len(num_heads)} and {len(depths)}"
        )
    side = image_size // patch_size
    block_side = 2 ** (levels - 1)
    if image_size % patch_size or side % block_side or side // block_side < 2:
        raise HashbenchError(
            f"hybridhash: a {image_size}-pixel image in {patch_size}-pixel patches must give a "
            f"token map divisible into {block_side} x {block_side} blocks of at least 2 x 2"
        )
    return side // block_side
