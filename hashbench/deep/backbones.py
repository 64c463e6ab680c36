"""Fully convolutional backbones: an input of base + stride * (N - 1) pixels gives N x N regions.

Every backbone is a *trunk* that maps a normalised image to a feature map, one feature vector
per region, and ends where a classifier's last layer would be. Fully connected layers are
written as convolutions (fc6 as a k x k convolution over the last pooled map, fc7 as 1 x 1),
so the same weights that see one 224-pixel image see N x N overlapping 224-pixel windows of a
larger input: that is how DMRH reads its regions (Zhou et al.), and with N = 1 each backbone is
the plain network. The hash (or class) head is a 1 x 1 convolution on the trunk's map.

* ``airbench`` (default): a small CIFAR-native network trained from scratch, after airbench
  (Jordan 2024): three groups conv-pool-BN-GELU-conv-BN-GELU, widths 64/256/256; base 32,
  stride 8.
* ``cnnf``: CNN-F (Chatfield et al. 2014), as in the DMRH, DPSH and ADSH papers; ImageNet
  weights from MatConvNet's ``imagenet-vgg-f.mat``; base 224, stride 32.
* ``alexnet`` and ``resnet18``: torchvision's networks, weights from a local state-dict file
  (nothing is downloaded); base 224, stride 32.
* ``hybridhash``: HybridHash's NesT hierarchy (:mod:`hashbench.deep.hybridhash_network`), shaped
  by the method's options; one region, whose map cells the hash head averages.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from hashbench.deep.backbone_specs import BACKBONE_SPECS, BackboneSpec
from hashbench.deep.matconvnet import CNNF_LAYERS, load_cnnf
from hashbench.deep.trunk import IMAGENET_MEAN, IMAGENET_STD, Channels, Trunk, read_state_dict
from hashbench.errors import HashbenchError

CIFAR10_MEAN: Channels = (0.4914, 0.4822, 0.4465)
CIFAR10_STD: Channels = (0.2470, 0.2435, 0.2616)
#: MatConvNet's CNN-F subtracts its mean pixel from 0-255 images and does not divide.
VGGF_MEAN: Channels = (122.803 / 255, 114.885 / 255, 101.572 / 255)
VGGF_STD: Channels = (1 / 255, 1 / 255, 1 / 255)


@dataclass(frozen=True)
class Backbone:
    spec: BackboneSpec
    #: (width, weights file, the method's network options) -> trunk
    build: Callable[..., Trunk]
    #: Reads a weights file as the build does, refusing a wrong one in one line; the runner
    #: calls it before any data is loaded.
    read_weights: Callable[[Path], object]


def scaled(channels: int, width: float) -> int:
    return max(1, round(channels * width))


# -- airbench-like, from scratch -----------------------------------------------------------
def batch_norm(channels: int) -> nn.BatchNorm2d:
    """Running statistics that follow the weights closely, as airbench's: training is short."""
    return nn.BatchNorm2d(channels, momentum=0.4)


def conv_group(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.MaxPool2d(2),
        batch_norm(c_out),
        nn.GELU(),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        batch_norm(c_out),
        nn.GELU(),
    )


def no_weights(path: Path) -> None:
    raise HashbenchError(
        f"the airbench backbone trains from scratch; it takes no weights file, not {path}"
    )


def build_airbench(width: float, weights: Path | None) -> Trunk:
    if weights is not None:
        no_weights(weights)
    stem, widths, region = scaled(24, width), [scaled(c, width) for c in (64, 256, 256)], 512
    region = scaled(region, width)
    return Trunk(
        {
            "stem": nn.Sequential(
                nn.Conv2d(3, stem, 3, padding=1, bias=False), batch_norm(stem), nn.GELU()
            ),
            "group1": conv_group(stem, widths[0]),
            "group2": conv_group(widths[0], widths[1]),
            "group3": conv_group(widths[1], widths[2]),
            # The 4 x 4 map of a 32-pixel input is one region, as CNN-F's fc6 sees 6 x 6.
            "region": nn.Sequential(
                nn.Conv2d(widths[2], region, 4, bias=False), batch_norm(region), nn.GELU()
            ),
        },
        features=region,
        mean=CIFAR10_MEAN,
        std=CIFAR10_STD,
    )


# -- CNN-F ---------------------------------------------------------------------------------
def pool_pad_right() -> nn.Sequential:
    """MatConvNet's max-pool with padding [0 1 0 1]; zeros are exact after a ReLU."""
    return nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.MaxPool2d(3, stride=2))


def local_response_norm(size: int, kappa: float, alpha: float, beta: float) -> nn.Module:
    """MatConvNet's ``x / (kappa + alpha * sum x^2)^beta``; PyTorch divides alpha by size."""
    return nn.LocalResponseNorm(size, alpha=alpha * size, beta=beta, k=kappa)


def build_cnnf(width: float, weights: Path | None) -> Trunk:
    c1, c2, fc = scaled(64, width), scaled(256, width), scaled(4096, width)
    # Krizhevsky's LRN; a weights file replaces it with its own parameters.
    lrn = (5, 2.0, 1e-4, 0.75)
    layers = {
        "conv1": nn.Conv2d(3, c1, 11, stride=4),
        "relu1": nn.ReLU(inplace=True),
        "norm1": local_response_norm(*lrn),
        "pool1": pool_pad_right(),
        "conv2": nn.Conv2d(c1, c2, 5, padding=2),
        "relu2": nn.ReLU(inplace=True),
        "norm2": local_response_norm(*lrn),
        "pool2": pool_pad_right(),
        "conv3": nn.Conv2d(c2, c2, 3, padding=1),
        "relu3": nn.ReLU(inplace=True),
        "conv4": nn.Conv2d(c2, c2, 3, padding=1),
        "relu4": nn.ReLU(inplace=True),
        "conv5": nn.Conv2d(c2, c2, 3, padding=1),
        "relu5": nn.ReLU(inplace=True),
        "pool5": pool_pad_right(),
        "fc6": nn.Conv2d(c2, fc, 6),
        "relu6": nn.ReLU(inplace=True),
        "fc7": nn.Conv2d(fc, fc, 1),
        "relu7": nn.ReLU(inplace=True),
    }
    mean = VGGF_MEAN
    if weights is not None:
        loaded = load_cnnf(weights)
        for name in CNNF_LAYERS:
            copy_weights(layers[name], loaded.weights[name], loaded.biases[name], weights)
        if loaded.lrn is not None:
            layers["norm1"] = local_response_norm(*loaded.lrn)
            layers["norm2"] = local_response_norm(*loaded.lrn)
        mean = loaded.mean
    return Trunk(layers, features=fc, mean=mean, std=VGGF_STD)


def copy_weights(conv: nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor, path: Path) -> None:
    if weight.shape != conv.weight.shape or bias.shape != conv.bias.shape:
        raise HashbenchError(
            f"{path}: a layer has weights of shape {tuple(weight.shape)}, CNN-F needs "
            f"{tuple(conv.weight.shape)}; give imagenet-vgg-f.mat and leave width at 1"
        )
    with torch.no_grad():
        conv.weight.copy_(weight)
        conv.bias.copy_(bias)


# -- torchvision ---------------------------------------------------------------------------
def load_state_dict(model: nn.Module, path: Path, name: str) -> None:
    state = read_state_dict(path, name)
    try:
        model.load_state_dict(state)
    except (RuntimeError, AttributeError, TypeError) as error:
        first = str(error).strip().splitlines()[0]
        raise HashbenchError(
            f"{path} is not a torchvision {name} state dict ({first}); "
            f"save one with torch.save(torchvision.models.{name}(...).state_dict(), path)"
        ) from error


def torchvision_only(width: float, name: str) -> None:
    if width != 1:
        raise HashbenchError(f"width scales the airbench and cnnf backbones only, not {name}")


def build_alexnet(width: float, weights: Path | None) -> Trunk:
    torchvision_only(width, "alexnet")
    model = torchvision.models.alexnet(weights=None)
    if weights is not None:
        load_state_dict(model, weights, "alexnet")
    fc6, fc7 = model.classifier[1], model.classifier[4]
    conv6, conv7 = nn.Conv2d(256, 4096, 6), nn.Conv2d(4096, 4096, 1)
    with torch.no_grad():
        conv6.weight.copy_(fc6.weight.view(4096, 256, 6, 6))
        conv6.bias.copy_(fc6.bias)
        conv7.weight.copy_(fc7.weight.view(4096, 4096, 1, 1))
        conv7.bias.copy_(fc7.bias)
    layers = {
        "features": model.features,
        "drop6": nn.Dropout(0.5),
        "fc6": conv6,
        "relu6": nn.ReLU(inplace=True),
        "drop7": nn.Dropout(0.5),
        "fc7": conv7,
        "relu7": nn.ReLU(inplace=True),
    }
    return Trunk(layers, features=4096, mean=IMAGENET_MEAN, std=IMAGENET_STD)


def build_resnet18(width: float, weights: Path | None) -> Trunk:
    torchvision_only(width, "resnet18")
    model = torchvision.models.resnet18(weights=None)
    if weights is not None:
        load_state_dict(model, weights, "resnet18")
    names = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
    layers: dict[str, nn.Module] = {name: getattr(model, name) for name in names}
    # The global average pool over the 7 x 7 map of a 224-pixel input, slid over larger maps.
    layers["avgpool"] = nn.AvgPool2d(7, stride=1)
    return Trunk(layers, features=512, mean=IMAGENET_MEAN, std=IMAGENET_STD)


def build_hybridhash(width: float, weights: Path | None, **options: Any) -> Trunk:
    """HybridHash's own network, shaped by the method's options; timm is imported only here."""
    if not options:
        raise HashbenchError("the hybridhash backbone is HybridHash's own network: run hybridhash")
    from hashbench.deep.hybridhash_network import build_hybridhash as build

    return build(width, weights, **options)


#: Each backbone's build and weights reader, by the name its spec gives.
_BUILDS: dict[str, tuple[Callable[..., Trunk], Callable[[Path], object]]] = {
    "airbench": (build_airbench, no_weights),
    "cnnf": (build_cnnf, load_cnnf),
    "alexnet": (build_alexnet, functools.partial(read_state_dict, name="alexnet")),
    "resnet18": (build_resnet18, functools.partial(read_state_dict, name="resnet18")),
    "hybridhash": (build_hybridhash, functools.partial(read_state_dict, name="hybridhash")),
}
BACKBONES: dict[str, Backbone] = {
    name: Backbone(spec, *_BUILDS[name]) for name, spec in BACKBONE_SPECS.items()
}


def get_backbone(name: str) -> Backbone:
    if name not in BACKBONES:
        raise HashbenchError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    return BACKBONES[name]


class HashNetwork(nn.Module):
    """uint8 images (B, C, H, W) -> a (B, outputs, N, N) map: one output vector per region.

    Resizing to the backbone's input and normalising happen here, on the device, so training
    and encoding see identical inputs whatever the stored image size.
    """

    def __init__(self, trunk: Trunk, outputs: int, input_size: int) -> None:
        super().__init__()
        self.trunk = trunk
        self.input_size = input_size
        std = torch.tensor(trunk.std).view(1, 3, 1, 1)
        mean = torch.tensor(trunk.mean).view(1, 3, 1, 1)
        # x / 255 normalised = x * scale + shift
        self.register_buffer("scale", 1 / (255 * std))
        self.register_buffer("shift", -mean / std)
        self.head = nn.Conv2d(trunk.out_channels, outputs, 1)

    def replace_head(self, outputs: int, generator: torch.Generator) -> None:
        """A fresh head with small weights: the hash layer starts near zero, as in DPSH."""
        head = nn.Conv2d(self.trunk.out_channels, outputs, 1)
        nn.init.normal_(head.weight, std=0.01, generator=generator)
        nn.init.zeros_(head.bias)
        self.head = head.to(self.scale.device, memory_format=torch.channels_last)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float()
        side = self.input_size
        if x.shape[-2:] != (side, side):
            shrinking = min(x.shape[-2:]) > side
            x = F.interpolate(
                x, size=(side, side), mode="bilinear", align_corners=False, antialias=shrinking
            )
        x = x * self.scale + self.shift
        return self.head(self.trunk(x))

    def regional(self, images: torch.Tensor) -> torch.Tensor:
        """(B, N * N, outputs) in float32: the outputs of every region."""
        return self(images).float().flatten(2).transpose(1, 2)


def build_network(
    backbone: Backbone,
    width: float,
    weights: Path | None,
    outputs: int,
    regions: int,
    options: Mapping[str, Any] | None = None,
) -> HashNetwork:
    """``options``: the method's own network settings (HybridHash's levels); none for the
    fixed backbones."""
    trunk = backbone.build(width, None if weights is None else Path(weights), **(options or {}))
    return HashNetwork(trunk, outputs, backbone.spec.input_size(regions, options))
