"""GIST: shape, responses computable by hand, batch invariance, and the pruned transform
against the reference's full FFT."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hashbench.data.dataset import Dataset
from hashbench.features import gist
from hashbench.features.extract import compute_features, get_feature


def grating(frequency: float, direction: float) -> np.ndarray:
    """A 32 x 32 RGB sinusoid whose wave vector points at ``direction`` (x right, y down)."""
    y, x = np.mgrid[0:32, 0:32]
    phase = 2 * np.pi * frequency * (x * np.cos(direction) + y * np.sin(direction))
    grey = np.round(128 + 100 * np.cos(phase)).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def smooth_images(count: int, seed: int, size: int = 32) -> np.ndarray:
    """Random-walk textures: image-like spectra, unlike white noise."""
    walk = np.cumsum(
        np.cumsum(np.random.default_rng(seed).normal(size=(count, size, size, 3)), 1), 2
    )
    low, high = walk.min(axis=(1, 2, 3), keepdims=True), walk.max(axis=(1, 2, 3), keepdims=True)
    return np.round(255 * (walk - low) / (high - low)).astype(np.uint8)


def test_shape_dtype_and_finite() -> None:
    features = gist.gist_descriptor(smooth_images(5, seed=0))
    assert features.shape == (5, 512) and features.dtype == np.float32
    assert np.isfinite(features).all() and (features >= 0).all() and features.max() > 0


def test_constant_image_has_an_all_zero_descriptor() -> None:
    # Prefiltering removes the mean, so nothing is left to filter; LMgist would give NaN
    # (it divides the zero intensity range by itself), hashbench documents zeros.
    images = np.stack([np.full((32, 32, 3), value, np.uint8) for value in (0, 77, 255)])
    np.testing.assert_array_equal(gist.gist_descriptor(images), np.zeros((3, 512)))


@pytest.mark.parametrize("scale", [0, 1, 2])
@pytest.mark.parametrize("orientation", range(8))
def test_a_grating_excites_its_own_scale_and_orientation_most(scale: int, orientation: int) -> None:
    # Filter (scale s, orientation j) peaks at 0.3 / 1.85^s cycles per pixel, wave vector at
    # angle -pi j / 8 (createGabor). Its energy, summed over the 16 blocks, must be the
    # largest of all 32 filters. (The coarsest scale, 1.5 cycles per image, is left out:
    # on a 32-pixel image the prefilter's whitening hands its energy to the next scale.)
    image = grating(0.3 / 1.85**scale, -np.pi * orientation / 8)
    energy = gist.gist_descriptor(image[None]).reshape(32, 16).sum(axis=1)
    assert energy.argmax() == 8 * scale + orientation


def test_one_image_alone_or_in_a_batch_gives_the_same_descriptor() -> None:
    images = smooth_images(7, seed=1)
    together = gist.gist_descriptor(images, batch_size=3)
    alone = np.concatenate([gist.gist_descriptor(image[None]) for image in images])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-7)


def test_pruned_transform_matches_the_full_fft_of_gistgabor() -> None:
    # The reference: pad by 32 symmetrically, |ifft2(fft2(image) * G)|, crop, 8x8 block
    # means, column-major blocks, in float64 with every frequency kept.
    rng = np.random.default_rng(2)
    prefiltered = rng.normal(size=(3, 32, 32)).astype(np.float32)
    transfer = gist.gabor_transfer_functions(96)
    expected = []
    for image in prefiltered.astype(np.float64):
        spectrum = np.fft.fft2(np.pad(image, 32, mode="symmetric"))
        blocks = [
            np.abs(np.fft.ifft2(spectrum * g))[32:64, 32:64].reshape(4, 8, 4, 8).mean((1, 3))
            for g in transfer
        ]
        expected.append(np.concatenate([b.T.ravel() for b in blocks]))
    actual = gist._gabor_block_energy(torch.from_numpy(prefiltered)).numpy()
    np.testing.assert_allclose(actual, np.array(expected), rtol=0, atol=1e-5 * np.max(expected))


def test_transfer_functions_peak_at_their_frequency_and_orientation() -> None:
    # Tolerances are the grid's: at the coarsest scale the peak is 24 grid steps from the
    # origin, and the narrow angular term drags the sampled maximum outwards. Neighbouring
    # scales differ by 85%, neighbouring orientations by 0.39 rad.
    transfer = gist.gabor_transfer_functions(512)
    for index in range(32):
        scale, orientation = divmod(index, 8)
        assert transfer[index].max() == pytest.approx(1, abs=0.01)
        row, col = np.unravel_index(transfer[index].argmax(), transfer[index].shape)
        fy, fx = (f if f < 256 else f - 512 for f in (row, col))
        assert np.hypot(fx, fy) / 512 == pytest.approx(0.3 / 1.85**scale, rel=0.15)
        turn = np.angle(np.exp(1j * (np.arctan2(fy, fx) + np.pi * orientation / 8)))
        assert turn == pytest.approx(0, abs=0.1)


def test_other_sizes_are_resized_first() -> None:
    images = smooth_images(3, seed=3)
    doubled = images.repeat(2, axis=1).repeat(2, axis=2)  # 64 x 64, the same picture
    small, large = gist.gist_descriptor(images), gist.gist_descriptor(doubled)
    for a, b in zip(small, large, strict=True):
        assert np.corrcoef(a, b)[0, 1] > 0.95
    wide = np.full((2, 40, 80, 3), 9, np.uint8)
    np.testing.assert_array_equal(gist.gist_descriptor(wide), np.zeros((2, 512)))


def test_gist_is_a_registered_cached_feature(isolated_cache) -> None:
    images = smooth_images(4, seed=4)
    dataset = Dataset(
        name="toy",
        images=images,
        labels=np.arange(4),
        parts={"train": np.arange(4)},
        class_names=tuple("abcd"),
        checksum="0" * 64,
        source="test",
    )
    feature = get_feature("gist")
    features = compute_features(dataset, "gist")
    np.testing.assert_array_equal(features, gist.gist_descriptor(images))
    assert (isolated_cache / "features" / f"{'0' * 20}-gist-v{feature.version}.npy").is_file()
