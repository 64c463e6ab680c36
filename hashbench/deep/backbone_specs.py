"""What each backbone is, apart from the code that builds it.

A recipe names its backbone and ``hashbench list`` shows the choices; neither builds a
network, so the table lives here without torch, and :mod:`hashbench.deep.backbones` pairs
each entry with its build.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    description: str
    #: Side of the input that gives one region, and the pixels each further region adds.
    base: int
    stride: int
    #: The weights file preset ``paper`` asks for.
    weights_hint: str

    def input_size(self, regions: int, options: Mapping[str, Any] | None = None) -> int:
        """Side of the input that gives a ``regions`` x ``regions`` map; a backbone built with
        an ``image_size`` option (HybridHash's) takes its input at that size."""
        base = (options or {}).get("image_size", self.base)
        return base + self.stride * (regions - 1)


BACKBONE_SPECS: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        BackboneSpec("airbench", "airbench-like CIFAR network, from scratch", 32, 8, "none"),
        BackboneSpec("cnnf", "CNN-F (VGG-F)", 224, 32, "imagenet-vgg-f.mat"),
        BackboneSpec("alexnet", "torchvision AlexNet", 224, 32, "a state-dict .pth"),
        BackboneSpec("resnet18", "torchvision ResNet-18", 224, 32, "a state-dict .pth"),
        BackboneSpec(
            "hybridhash",
            "HybridHash's NesT hierarchy with interaction modules (input: its image_size)",
            224,
            0,
            "jx_nest_base-8bc41011.pth (timm's nest_base layout)",
        ),
    )
}
