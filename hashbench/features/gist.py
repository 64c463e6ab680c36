"""The 512-d GIST descriptor (Oliva & Torralba 2001) that the hashing literature feeds its
non-deep baselines on CIFAR-10.

Follows the authors' ``LMgist.m`` (LabelMe toolbox) step by step: grey image (the mean of the
channels), intensities stretched to [0, 255], ``prefilt`` (log, whitening and local contrast
normalisation with ``fc_prefilt = 4``), symmetric padding by 32 pixels, Gabor energy
``|ifft2(fft2(image) * G)|`` for 4 scales x 8 orientations (``createGabor``), cropped back and
averaged over a 4 x 4 grid (``downN``). Images are taken at 32 x 32, the tiny-images setting
used for CIFAR-10 (other sizes are resized and centre-cropped, as ``imresizecrop`` does).

Two departures, both documented: a constant image has no intensity range, where ``LMgist``
divides 0 by 0 and returns NaN; here it keeps intensity 0 and its descriptor is all zeros
(as does any image whose range is under ``FLAT_RANGE``, a thousandth of a grey level).
And for speed each filter's inverse transform skips the frequencies where its transfer
function is below ``NEGLIGIBLE_GAIN`` of its peak (their share of any response is below
float32 resolution) and evaluates only the cropped pixels, as two real matrix products per
filter over a batch of images instead of one full 96 x 96 inverse FFT each.

Feature order is the reference's: filter-major (scale from fine to coarse, then orientation
``pi * j / 8``), then the 16 blocks in column-major order (row block fastest).
"""

from __future__ import annotations

import functools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

IMAGE_SIZE = 32
BOUNDARY_EXTENSION = 32
ORIENTATIONS_PER_SCALE = (8, 8, 8, 8)
NUMBER_BLOCKS = 4
PREFILTER_CYCLES = 4.0
PREFILTER_PAD = 5
NEGLIGIBLE_GAIN = 1e-6
#: Intensity ranges below this (in grey levels of 0..255) are flat: see ``_stretch_to_255``.
FLAT_RANGE = 1e-3
#: The contrast-normalisation floor ``.2`` of ``prefilt``.
CONTRAST_FLOOR = 0.2
DIMENSION = sum(ORIENTATIONS_PER_SCALE) * NUMBER_BLOCKS**2


def _fft_frequencies(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(fx, fy) in cycles per image over an n x n grid, in FFT order (``fftshift`` applied)."""
    frequencies = np.fft.fftfreq(n, d=1.0 / n)
    return np.meshgrid(frequencies, frequencies)


def gabor_transfer_functions(
    size: int, orientations_per_scale: tuple[int, ...] = ORIENTATIONS_PER_SCALE
) -> np.ndarray:
    """``createGabor``: (filters, size, size) real transfer functions in FFT order."""
    fx, fy = _fft_frequencies(size)
    radius = np.hypot(fx, fy)
    angle = np.arctan2(fy, fx)
    filters = []
    for scale, orientations in enumerate(orientations_per_scale):
        peak = 0.3 / 1.85**scale  # cycles per pixel
        angular_width = 16 * orientations**2 / 32**2
        for j in range(orientations):
            turned = angle + math.pi / orientations * j
            turned = turned + 2 * math.pi * (turned < -math.pi) - 2 * math.pi * (turned > math.pi)
            filters.append(
                np.exp(
                    -10 * 0.35 * (radius / size / peak - 1) ** 2
                    - 2 * angular_width * math.pi * turned**2
                )
            )
    return np.stack(filters)


@dataclass(frozen=True)
class _FilterStage:
    """One filter's inverse transform, pruned to its support and evaluated on the crop only.

    The support is a cyclic interval of frequency rows and one of columns, each stored as
    one or two runs of the spectrum (two when it wraps around). ``to_x[run]`` maps a column
    run of every kept row (re/im interleaved, gains folded in) to the real part (index 0)
    and the imaginary part (index 1) at the cropped x positions; ``to_y`` then sums the
    kept rows into the cropped y positions.
    """

    row_runs: tuple[tuple[int, int], ...]  # (first spectrum row, count)
    column_runs: tuple[tuple[int, int], ...]  # (first spectrum column, count)
    to_x: tuple[torch.Tensor, ...]  # per column run: (2, rows, 2 * count, crop)
    to_y: torch.Tensor  # (2 * crop, 2 * rows): [[re, -im], [im, re]]

    @property
    def rows(self) -> int:
        return sum(count for _, count in self.row_runs)


def _cyclic_interval(kept: np.ndarray) -> np.ndarray:
    """Indices of the shortest cyclic interval covering the True entries, in order."""
    size = len(kept)
    if kept.all():
        return np.arange(size)
    # The interval starts just after the longest cyclic run of False.
    best_start, best_gap, gap = 0, -1, 0
    for index in range(2 * size):
        gap = 0 if kept[index % size] else gap + 1
        if gap > best_gap:
            best_gap, best_start = gap, (index + 1) % size
    return (best_start + np.arange(size - best_gap)) % size


def _runs(indices: np.ndarray) -> tuple[tuple[int, int], ...]:
    """Split cyclic indices into increasing runs: ((start, count), ...)."""
    breaks = np.flatnonzero(np.diff(indices) != 1) + 1
    return tuple((int(run[0]), len(run)) for run in np.split(indices, breaks))


@functools.lru_cache(maxsize=2)
def _filter_stages(image_size: int) -> tuple[_FilterStage, ...]:
    size = image_size + 2 * BOUNDARY_EXTENSION
    crop = np.arange(BOUNDARY_EXTENSION, BOUNDARY_EXTENSION + image_size)
    stages = []
    for transfer in gabor_transfer_functions(size):
        kept = transfer > NEGLIGIBLE_GAIN
        rows = _cyclic_interval(kept.any(axis=1))
        columns = _cyclic_interval(kept.any(axis=0))
        # Zero, not merely tiny: float32 denormals would slow the products many-fold.
        gains = np.where(kept, transfer, 0.0)[np.ix_(rows, columns)]
        # Inverse DFT restricted to the support (frequency index) and the crop (pixel).
        to_x = np.exp(2j * np.pi * np.outer(columns, crop) / size) / size
        to_y = np.exp(2j * np.pi * np.outer(crop, rows) / size) / size
        weighted = gains[:, :, None] * to_x[None]  # (rows, columns, crop)
        # Rows of each product: z.re then z.im per column, as the spectrum interleaves them.
        real_part = np.stack([weighted.real, -weighted.imag], axis=2)
        imag_part = np.stack([weighted.imag, weighted.real], axis=2)
        both = np.stack([real_part, imag_part])  # (2, rows, columns, 2, crop)
        column_runs = _runs(columns)
        offsets = np.cumsum([0] + [count for _, count in column_runs])
        stages.append(
            _FilterStage(
                row_runs=_runs(rows),
                column_runs=column_runs,
                to_x=tuple(
                    _as_tensor(both[:, :, a:b].reshape(2, len(rows), 2 * (b - a), image_size))
                    for a, b in zip(offsets[:-1], offsets[1:], strict=True)
                ),
                to_y=_as_tensor(np.block([[to_y.real, -to_y.imag], [to_y.imag, to_y.real]])),
            )
        )
    return tuple(stages)


def _as_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _symmetric_pad(images: torch.Tensor, pad: int) -> torch.Tensor:
    """MATLAB ``padarray(..., 'symmetric')`` on the last two axes (edge pixel repeated)."""
    rows = torch.from_numpy(np.pad(np.arange(images.shape[-2]), pad, mode="symmetric"))
    cols = torch.from_numpy(np.pad(np.arange(images.shape[-1]), pad, mode="symmetric"))
    return images[..., rows, :][..., cols]


def _grey_square(images: np.ndarray, image_size: int) -> torch.Tensor:
    """Channel mean, then ``imresizecrop``: scale to cover the square, centre crop."""
    grey = torch.from_numpy(np.asarray(images, dtype=np.float32).mean(axis=-1))
    height, width = grey.shape[-2:]
    if (height, width) == (image_size, image_size):
        return grey
    scaling = max(image_size / height, image_size / width)
    new_size = (round(height * scaling), round(width * scaling))
    grey = F.interpolate(
        grey[:, None], size=new_size, mode="bilinear", align_corners=False, antialias=True
    )[:, 0]
    top = (new_size[0] - image_size) // 2
    left = (new_size[1] - image_size) // 2
    return grey[:, top : top + image_size, left : left + image_size]


def _stretch_to_255(grey: torch.Tensor) -> torch.Tensor:
    """Intensities to [0, 255] per image; a constant image stays 0 (LMgist would give NaN).

    A range under ``FLAT_RANGE`` grey levels counts as constant: resizing a constant image
    leaves float rounding noise, which stretching would blow up into a full-range texture.
    """
    grey = grey - grey.amin(dim=(-2, -1), keepdim=True)
    peak = grey.amax(dim=(-2, -1), keepdim=True)
    return torch.where(peak > FLAT_RANGE, 255 * grey / peak.clamp_min(FLAT_RANGE), 0.0)


def _prefilter(grey: torch.Tensor) -> torch.Tensor:
    """``prefilt``: log, subtract the low-pass, divide by the local standard deviation."""
    image = _symmetric_pad(torch.log(grey + 1), PREFILTER_PAD)
    n = image.shape[-1]  # even, as IMAGE_SIZE is: MATLAB's extra 'post' padding is a no-op
    fx, fy = _fft_frequencies(n)
    scale = PREFILTER_CYCLES / math.sqrt(math.log(2))
    lowpass = torch.from_numpy(np.exp(-(fx**2 + fy**2) / scale**2)[:, : n // 2 + 1])
    lowpass = lowpass.to(torch.float32)
    whitened = image - torch.fft.irfft2(torch.fft.rfft2(image) * lowpass, s=(n, n))
    local_variance = torch.fft.irfft2(torch.fft.rfft2(whitened**2) * lowpass, s=(n, n))
    normalised = whitened / (CONTRAST_FLOOR + local_variance.abs().sqrt())
    size = grey.shape[-1]
    return normalised[
        ..., PREFILTER_PAD : PREFILTER_PAD + size, PREFILTER_PAD : PREFILTER_PAD + size
    ]


def _gabor_block_energy(prefiltered: torch.Tensor) -> torch.Tensor:
    """``gistGabor``: (n, filters * blocks^2) mean |response| per block, reference order."""
    count, image_size = prefiltered.shape[0], prefiltered.shape[-1]
    spectrum = torch.fft.fft2(_symmetric_pad(prefiltered, BOUNDARY_EXTENSION))
    size = spectrum.shape[-1]
    # (row, image, column re/im interleaved): a run of rows and columns is a plain slice.
    spectrum = torch.view_as_real(spectrum).permute(1, 0, 2, 3).reshape(size, count, 2 * size)
    stages = _filter_stages(image_size)
    block = image_size // NUMBER_BLOCKS
    features = torch.empty(count, len(stages), NUMBER_BLOCKS, NUMBER_BLOCKS)
    for index, stage in enumerate(stages):
        along_x = torch.zeros(2, stage.rows, count, image_size)  # real, imaginary parts
        row_offset = 0
        for first_row, rows in stage.row_runs:
            targets = along_x[:, row_offset : row_offset + rows]
            for (first_column, columns), weights in zip(stage.column_runs, stage.to_x, strict=True):
                spectrum_run = spectrum[
                    first_row : first_row + rows, :, 2 * first_column : 2 * (first_column + columns)
                ]
                for part in (0, 1):
                    run_weights = weights[part, row_offset : row_offset + rows]
                    targets[part].baddbmm_(spectrum_run, run_weights)
            row_offset += rows
        response = stage.to_y @ along_x.reshape(2 * stage.rows, count * image_size)
        energy = torch.hypot(response[:image_size], response[image_size:])
        blocks = energy.reshape(NUMBER_BLOCKS, block, count, NUMBER_BLOCKS, block).mean((1, 4))
        features[:, index] = blocks.permute(1, 2, 0)  # (n, x block, y block): y fastest
    return features.reshape(count, -1)


def gist_descriptor(images: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """float32 (n, 512) GIST of uint8 images (n, H, W, C); each image independently.

    Batches run on one worker thread per core, each with single-threaded torch kernels:
    independent batches need no barrier between cores, so a busy machine slows the work
    down in proportion instead of stalling every small operation (which 2-thread torch
    kernels do here by up to 10x).
    """
    starts = range(0, len(images), batch_size)
    features = np.empty((len(images), DIMENSION), dtype=np.float32)

    def run(start: int) -> None:
        with torch.inference_mode():
            grey = _grey_square(images[start : start + batch_size], IMAGE_SIZE)
            energy = _gabor_block_energy(_prefilter(_stretch_to_255(grey)))
        features[start : start + batch_size] = energy.numpy()

    _filter_stages(IMAGE_SIZE)  # build once, before the workers need it
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(run, starts))
    finally:
        torch.set_num_threads(previous_threads)
    return features
