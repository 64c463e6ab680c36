"""CNN-F's weights from a MatConvNet file written here in imagenet-vgg-f.mat's structure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from hashbench import HashbenchError, Subset, create_method
from hashbench.deep.backbones import get_backbone
from hashbench.deep.matconvnet import load_cnnf

WIDTH = 1 / 16  # channels 4, 16 and 256 instead of 64, 256 and 4096; the geometry is CNN-F's
#: name -> (H, W, C_in, C_out) of CNN-F's filters at WIDTH, in MatConvNet's layout.
FILTERS = {
    "conv1": (11, 11, 3, 4),
    "conv2": (5, 5, 4, 16),
    "conv3": (3, 3, 16, 16),
    "conv4": (3, 3, 16, 16),
    "conv5": (3, 3, 16, 16),
    "fc6": (6, 6, 16, 256),
    "fc7": (1, 1, 256, 256),
    "fc8": (1, 1, 256, 10),
}
ORDER = [
    "conv1",
    "relu1",
    "norm1",
    "pool1",
    "conv2",
    "relu2",
    "norm2",
    "pool2",
    "conv3",
    "relu3",
    "conv4",
    "relu4",
    "conv5",
    "relu5",
    "pool5",
    "fc6",
    "relu6",
    "fc7",
    "relu7",
    "fc8",
    "prob",
]
MEAN_PIXEL = (120.0, 110.0, 100.0)
LRN = (5.0, 1.0, 2e-5, 0.75)


def layer(name: str, rng: np.random.Generator, beta_era: bool) -> dict:
    """One MatConvNet layer struct, as simplenn saves it."""
    if name in FILTERS:
        shape = FILTERS[name]
        filters = rng.normal(size=shape).astype(np.float32) * 0.1
        biases = rng.normal(size=(1, shape[3])).astype(np.float32)
        stride = [[4, 4]] if name == "conv1" else [[1, 1]]
        pad = {"conv2": 2, "conv3": 1, "conv4": 1, "conv5": 1}.get(name, 0)
        params = {"filters": filters, "biases": biases}
        if not beta_era:
            weights = np.empty((1, 2), dtype=object)
            weights[0, 0], weights[0, 1] = filters, biases
            params = {"weights": weights}
        return {"name": name, "type": "conv", **params, "stride": stride, "pad": [[pad] * 4]}
    if name.startswith("norm"):
        return {"name": name, "type": "lrn", "param": [list(LRN)]}
    if name.startswith("pool"):
        return {"name": name, "type": "pool", "method": "max", "pool": [[3, 3]],
                "stride": [[2, 2]], "pad": [[0, 1, 0, 1]]}  # fmt: skip
    return {"name": name, "type": "relu" if name.startswith("relu") else "softmax"}


def write_vggf(path: Path, beta_era: bool = False, drop: str | None = None) -> dict:
    """A .mat like imagenet-vgg-f.mat; beta-era files keep the mean image at the top level."""
    rng = np.random.default_rng(0)
    layers = [layer(name, rng, beta_era) for name in ORDER if name != drop]
    cells = np.empty((1, len(layers)), dtype=object)
    for i, entry in enumerate(layers):
        cells[0, i] = entry
    if beta_era:
        image = np.broadcast_to(np.array(MEAN_PIXEL, np.float32), (224, 224, 3)).copy()
        content = {"layers": cells, "normalization": {"averageImage": image}}
    else:
        pixel = np.array(MEAN_PIXEL, np.float32).reshape(1, 1, 3)
        meta = {"normalization": {"averageImage": pixel, "imageSize": [[224, 224, 3]]}}
        content = {"layers": cells, "meta": meta}
    scipy.io.savemat(path, content)
    return {entry["name"]: entry for entry in layers}


@pytest.mark.parametrize("beta_era", [False, True])
def test_cnnf_reads_weights_mean_and_lrn_from_the_file(tmp_path: Path, beta_era: bool) -> None:
    path = tmp_path / "imagenet-vgg-f.mat"
    written = write_vggf(path, beta_era)
    loaded = load_cnnf(path)
    assert loaded.mean == pytest.approx(tuple(c / 255 for c in MEAN_PIXEL))
    assert loaded.lrn == (5, 1.0, 2e-5, 0.75)
    assert tuple(loaded.weights["fc7"].shape) == (256, 256, 1, 1)  # singleton dims survive

    trunk = get_backbone("cnnf").build(WIDTH, path).eval()
    # conv1 at output position (y, x) = (2, 3) computed from the file's H x W x C x K filters
    # by hand: any transposition of the layout (H and W swapped, say) gives another number.
    image = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    entry = written["conv1"]
    filters = entry["filters"] if beta_era else entry["weights"][0, 0]
    bias = (entry["biases"] if beta_era else entry["weights"][0, 1]).ravel()
    y, x, out = 2, 3, 1
    window = image[0, :, 4 * y : 4 * y + 11, 4 * x : 4 * x + 11].numpy()  # C x H x W
    expected = bias[out] + sum(
        float(filters[i, j, c, out]) * float(window[c, i, j])
        for i in range(11)
        for j in range(11)
        for c in range(3)
    )
    with torch.no_grad():
        actual = trunk.conv1(image)[0, out, y, x]
    assert float(actual) == pytest.approx(expected, rel=1e-4, abs=1e-4)
    # The LRN is MatConvNet's x / (kappa + alpha sum x^2)^beta over 5 channels.
    assert trunk.norm1.alpha == pytest.approx(5 * 2e-5) and trunk.norm1.k == 1.0
    with torch.no_grad():
        assert trunk(image).shape == (1, 256, 1, 1)


def test_cnnf_weights_set_the_networks_mean_pixel(tmp_path: Path) -> None:
    path = tmp_path / "imagenet-vgg-f.mat"
    write_vggf(path)
    trunk = get_backbone("cnnf").build(WIDTH, path)
    assert trunk.mean == pytest.approx(tuple(c / 255 for c in MEAN_PIXEL))
    assert trunk.std == pytest.approx((1 / 255,) * 3)  # MatConvNet does not divide


def test_files_that_are_not_cnnf_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "partial.mat"
    write_vggf(path, drop="fc6")
    with pytest.raises(HashbenchError, match="lacks layer"):
        load_cnnf(path)
    full = tmp_path / "imagenet-vgg-f.mat"
    write_vggf(full)
    with pytest.raises(HashbenchError, match="shape"):
        get_backbone("cnnf").build(1.0, full)  # the file is narrower than full CNN-F
    garbage = tmp_path / "garbage.mat"
    garbage.write_bytes(b"not a matlab file")
    with pytest.raises(HashbenchError, match="cannot read"):
        load_cnnf(garbage)
    with pytest.raises(HashbenchError, match="does not exist"):
        load_cnnf(tmp_path / "missing.mat")


def test_paper_preset_fine_tunes_cnnf_from_the_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HASHBENCH_DEVICE", "cpu")
    path = tmp_path / "imagenet-vgg-f.mat"
    write_vggf(path)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(12, 32, 32, 3), dtype=np.uint8)
    train = Subset(np.arange(12), images, np.arange(12) % 3)
    method = create_method(
        "dmrh", bits=8, preset="paper", weights=str(path), width=WIDTH, epochs=1, batch_size=6
    )
    method.fit(train)
    assert method.network_.input_size == 192 + 32 * 2  # CIFAR images upscaled for N = 2
    assert [(e["phase"], e["epoch"]) for e in method.history_] == [("hashing", 1)]
    assert np.isfinite(method.history_[0]["loss"])
    assert method.encode(images).shape == (12, 8)
