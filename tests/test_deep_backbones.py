"""Backbones: the N x N region geometry, the fully connected layers as convolutions, weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from hashbench import HashbenchError
from hashbench.deep.backbones import build_network, get_backbone

#: Small widths keep the real geometry (kernels, strides, padding) but few channels.
WIDTHS = {"airbench": 0.125, "cnnf": 1 / 16, "alexnet": 1.0, "resnet18": 1.0}


@pytest.mark.parametrize("name", sorted(WIDTHS))
def test_input_of_base_plus_stride_times_n_minus_1_gives_n_by_n_regions(name: str) -> None:
    backbone = get_backbone(name)
    trunk = backbone.build(WIDTHS[name], None).eval()
    for regions in (1, 2, 3):
        side = backbone.spec.base + backbone.spec.stride * (regions - 1)
        with torch.no_grad():
            features = trunk(torch.zeros(1, 3, side, side))
        assert features.shape == (1, trunk.out_channels, regions, regions), (name, side)


def test_published_geometry() -> None:
    assert get_backbone("cnnf").spec.input_size(3) == 192 + 32 * 3  # the DMRH paper's rule
    assert get_backbone("airbench").spec.input_size(1) == 32


def test_network_resizes_any_image_to_its_input_on_the_fly() -> None:
    network = build_network(get_backbone("airbench"), 0.125, None, outputs=6, regions=2).eval()
    assert network.input_size == 40
    for height, width in ((32, 32), (50, 37)):
        images = torch.randint(0, 256, (2, 3, height, width), dtype=torch.uint8)
        with torch.no_grad():
            assert network(images).shape == (2, 6, 2, 2)
            assert network.regional(images).shape == (2, 4, 6)


def saved_state(tmp_path: Path, model: torch.nn.Module) -> Path:
    path = tmp_path / "weights.pth"
    torch.save(model.state_dict(), path)
    return path


def test_alexnet_as_convolutions_equals_torchvision_alexnet(tmp_path: Path) -> None:
    torch.manual_seed(0)
    reference = torchvision.models.alexnet(weights=None).eval()
    trunk = get_backbone("alexnet").build(1.0, saved_state(tmp_path, reference)).eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        fc7 = reference.classifier[:6](torch.flatten(reference.avgpool(reference.features(x)), 1))
        assert torch.allclose(trunk(x).flatten(1), fc7, atol=1e-4)


def test_resnet18_trunk_equals_torchvision_pooled_features(tmp_path: Path) -> None:
    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None).eval()
    trunk = get_backbone("resnet18").build(1.0, saved_state(tmp_path, reference)).eval()
    reference.fc = torch.nn.Identity()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(trunk(x).flatten(1), reference(x), atol=1e-4)


def test_weights_that_are_not_the_backbones_are_refused(tmp_path: Path) -> None:
    wrong = saved_state(tmp_path, torchvision.models.alexnet(weights=None))
    with pytest.raises(HashbenchError, match="not a torchvision resnet18 state dict"):
        get_backbone("resnet18").build(1.0, wrong)
    with pytest.raises(HashbenchError, match="does not exist"):
        get_backbone("alexnet").build(1.0, tmp_path / "missing.pth")
    with pytest.raises(HashbenchError, match="width"):
        get_backbone("alexnet").build(0.5, None)
    with pytest.raises(HashbenchError, match="unknown backbone 'vgg'"):
        get_backbone("vgg")
