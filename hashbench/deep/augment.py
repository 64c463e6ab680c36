"""Batch augmentation on the device: random flips and translations in one gather, no DataLoader.

The training images live on the device as uint8 (n, H, W, C); a batch is augmented at its
stored resolution and comes out as a channels-last (B, C, H, W) view, ready for the network
(which resizes and normalises it). Translations pad by reflection, as airbench does.
"""

from __future__ import annotations

import torch


def reflect(positions: torch.Tensor, size: int) -> torch.Tensor:
    """Index of position p in a reflection-padded axis of length ``size`` (no edge repeat)."""
    period = 2 * (size - 1) if size > 1 else 1
    positions = positions.remainder(period)
    return torch.where(positions < size, positions, period - positions)


def augment(
    images: torch.Tensor, *, flip: bool, translate: int, generator: torch.Generator
) -> torch.Tensor:
    """(B, H, W, C) uint8 -> (B, C, H, W) uint8, each image flipped and shifted at random."""
    batch, height, width, _ = images.shape
    device = images.device
    rows = torch.arange(height, device=device).expand(batch, height)
    cols = torch.arange(width, device=device).expand(batch, width)
    if translate > 0:
        shifts = torch.randint(
            -translate, translate + 1, (batch, 2), device=device, generator=generator
        )
        rows = reflect(rows + shifts[:, :1], height)
        cols = reflect(cols + shifts[:, 1:], width)
    if flip:
        mirrored = torch.rand(batch, device=device, generator=generator) < 0.5
        cols = torch.where(mirrored[:, None], width - 1 - cols, cols)
    if translate > 0 or flip:
        index = torch.arange(batch, device=device)[:, None, None]
        images = images[index, rows[:, :, None], cols[:, None, :]]
    return images.permute(0, 3, 1, 2)
