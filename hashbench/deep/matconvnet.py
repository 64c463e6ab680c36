"""Reads CNN-F's ImageNet weights from MatConvNet's ``imagenet-vgg-f.mat``.

The file (the one the DPSH, ADSH and DCMH authors load) is a MATLAB struct saved by
MatConvNet's ``simplenn``:

* ``layers``: a 1 x L cell array, one 1 x 1 struct per layer with at least ``name`` and
  ``type`` (conv1 relu1 norm1 pool1 conv2 relu2 norm2 pool2 conv3 relu3 conv4 relu4 conv5 relu5
  pool5 fc6 relu6 fc7 relu7 fc8 prob). Convolutions (fc6-fc8 included) hold ``weights``, a 1 x 2
  cell {filters H x W x C_in x C_out, biases}; beta-era files hold ``filters`` and ``biases``.
  Normalisation layers hold ``param`` = [N kappa alpha beta].
* ``meta.normalization.averageImage`` (older files: top-level ``normalization``): the mean
  pixel, or a mean image whose per-channel mean is the mean pixel; inputs are 0-255 RGB.

Layers are found by name, never by position or field order, so either vintage loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io
import torch

from hashbench.errors import HashbenchError

#: The layers with weights that CNN-F's trunk takes (fc8, the ImageNet classifier, is dropped).
CNNF_LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7")


@dataclass(frozen=True)
class CNNFWeights:
    weights: dict[str, torch.Tensor]  # name -> (C_out, C_in, H, W), PyTorch layout
    biases: dict[str, torch.Tensor]
    mean: tuple[float, float, float]  # mean pixel in [0, 1] units
    lrn: tuple[int, float, float, float] | None  # (N, kappa, alpha, beta) as MatConvNet's


def unwrap(value: Any) -> Any:
    """MATLAB wraps every scalar, string and struct in 1 x 1 arrays; take them out."""
    while isinstance(value, np.ndarray) and value.size == 1 and value.dtype == object:
        value = value.flat[0]
    if isinstance(value, np.ndarray) and value.dtype.names and value.size == 1:
        value = value.flat[0]
    return value


def field(struct: Any, name: str) -> Any:
    names = struct.dtype.names or ()
    return unwrap(struct[name]) if name in names else None


def text(value: Any) -> str:
    value = unwrap(value)
    if isinstance(value, np.ndarray):
        return "".join(str(part) for part in value.ravel())
    return str(value)


def read_layers(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    cells = data.get("layers")
    if cells is None:
        raise HashbenchError(f"{path} has no 'layers': not a MatConvNet simplenn model")
    layers = {}
    for cell in np.asarray(cells).ravel():
        layer = unwrap(cell)
        name = field(layer, "name")
        if name is not None:
            layers[text(name)] = layer
    return layers


def conv_parameters(path: Path, layer: Any, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    weights = field(layer, "weights")
    if weights is not None:
        filters, biases = (np.asarray(part) for part in np.asarray(weights).ravel()[:2])
    else:
        filters, biases = field(layer, "filters"), field(layer, "biases")
    if filters is None or biases is None:
        raise HashbenchError(f"{path}: layer {name} holds no weights")
    filters = np.asarray(filters, dtype=np.float32)
    if filters.ndim != 4:  # MATLAB drops trailing singleton dimensions
        filters = filters.reshape(filters.shape + (1,) * (4 - filters.ndim))
    # MatConvNet filters are H x W x C_in x C_out; PyTorch wants C_out x C_in x H x W.
    weight = torch.from_numpy(np.ascontiguousarray(filters.transpose(3, 2, 0, 1)))
    bias = torch.from_numpy(np.asarray(biases, dtype=np.float32).reshape(-1).copy())
    return weight, bias


def mean_pixel(path: Path, data: dict[str, Any]) -> tuple[float, float, float]:
    meta = unwrap(data["meta"]) if "meta" in data else None
    normalization = field(meta, "normalization") if meta is not None else None
    if normalization is None and "normalization" in data:
        normalization = unwrap(data["normalization"])
    average = field(normalization, "averageImage") if normalization is not None else None
    if average is None:
        raise HashbenchError(f"{path} has no normalization.averageImage (the mean pixel)")
    average = np.asarray(average, dtype=np.float64)
    if average.size % 3:
        raise HashbenchError(f"{path}: averageImage has shape {average.shape}, not RGB")
    # A mean image is H x W x 3; a mean pixel 3 x 1 or 1 x 1 x 3: channels are the last
    # axis of length 3.
    channels = average.reshape(3) if average.size == 3 else average.reshape(-1, 3).mean(axis=0)
    r, g, b = (float(value) / 255 for value in channels)
    return r, g, b


def load_cnnf(path: Path) -> CNNFWeights:
    """CNN-F's weights, mean pixel and LRN parameters from a MatConvNet ``.mat`` file."""
    path = Path(path)
    if not path.is_file():
        raise HashbenchError(f"CNN-F weights file {path} does not exist")
    try:
        data = scipy.io.loadmat(str(path))
    except Exception as error:
        raise HashbenchError(f"cannot read {path} as a MATLAB file: {error}") from error
    layers = read_layers(path, data)
    missing = [name for name in CNNF_LAYERS if name not in layers]
    if missing:
        raise HashbenchError(
            f"{path} lacks layer(s) {', '.join(missing)}: not CNN-F (imagenet-vgg-f.mat)"
        )
    weights, biases = {}, {}
    for name in CNNF_LAYERS:
        weights[name], biases[name] = conv_parameters(path, layers[name], name)
    lrn = None
    if "norm1" in layers and field(layers["norm1"], "param") is not None:
        size, kappa, alpha, beta = np.asarray(field(layers["norm1"], "param"), float).ravel()
        lrn = (int(size), float(kappa), float(alpha), float(beta))
    return CNNFWeights(weights, biases, mean_pixel(path, data), lrn)
