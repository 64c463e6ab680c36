"""HybridHash: the network's shapes at both presets, NesT-B weights in timm's layout, and the
loss against its formula pair by pair."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from hashbench import HashbenchError, create_method
from hashbench.deep.backbones import build_network, get_backbone
from hashbench.deep.losses import balanced_likelihood, similarity
from hashbench.methods.hybridhash import SHAPES


def network(preset: str, bits: int = 16, weights: Path | None = None, width=1.0, **shape):
    method = create_method("hybridhash", bits=bits, preset=preset, weights=weights, **shape)
    return build_network(
        get_backbone("hybridhash"), width, weights, bits, 1, method.network_options()
    )


def test_the_scratch_network_hashes_cifar_images() -> None:
    net = network("scratch", bits=24)
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    assert net(images).shape == (2, 24, 1, 1)  # 8 x 8 tokens -> 2 x 2 -> max-pool -> 1 x 1
    assert net.regional(images).shape == (2, 1, 24)


def test_the_paper_network_is_train_pys_at_224_pixels() -> None:
    net = network("scratch", **SHAPES["paper"])  # the paper's network, from scratch
    images = torch.randint(0, 256, (1, 3, 224, 224), dtype=torch.uint8)
    with torch.no_grad():
        assert net(images).shape == (1, 16, 7, 7)  # 14 x 14 -> max-pool -> 7 x 7, averaged
    # HybridHash's ImageNet log counts 55.57 M parameters (64 bits)
    wide = network("scratch", bits=64, **SHAPES["paper"])
    assert sum(p.numel() for p in wide.parameters()) == pytest.approx(55.57e6, rel=1e-3)


def test_nest_base_weights_in_timms_layout_load_where_names_and_shapes_fit(tmp_path) -> None:
    timm = pytest.importorskip("timm")
    nest = timm.create_model("nest_base", pretrained=False, num_classes=10)  # random weights
    path = tmp_path / "jx_nest_base-8bc41011.pth"
    torch.save(nest.state_dict(), path)
    net = network("paper", weights=path)
    report = net.trunk.weights_report
    for key in ("patch_embed.proj.weight", "levels.0.pos_embed", "levels.1.pool.conv.weight",
                "levels.1.pool.norm.weight", "levels.2.transformer_encoder.14.mlp.fc2.weight",
                "norm.weight"):  # fmt: skip
        assert key in report["loaded"]
        assert torch.equal(net.trunk.state_dict()[key], nest.state_dict()[key])
    assert "levels.2.transformer_encoder.15.attn.qkv.weight" in report["not_used"]  # depth 20
    assert "head.weight" in report["not_used"]  # the class head
    left = report["left_at_initialisation"]
    assert "levels.1.pool.conv_glo.weight" in left and any("hash_branches" in k for k in left)
    assert not set(report["loaded"]) & set(left)


def test_a_weights_file_that_matches_nothing_is_refused(tmp_path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(HashbenchError, match="matches none of hybridhash's parameters"):
        network("paper", weights=path)


def test_hybridhash_loss_matches_hash_loss_py_pair_by_pair() -> None:
    generator = torch.Generator().manual_seed(0)
    u = torch.tanh(torch.randn(3, 4, generator=generator, dtype=torch.float64))
    bank = torch.tanh(torch.randn(5, 4, generator=generator, dtype=torch.float64))
    bank[:3] = u  # the batch's own rows are in the bank, as Hash_Loss.py writes them first
    labels = torch.tensor([[1, 0], [0, 1], [1, 1], [0, 1], [1, 0]])
    s = similarity(labels[:3], labels).double()
    similar = float(s.sum())
    total = loss = 0.0
    for i in range(3):
        for j in range(5):
            dot = 0.5 * float(u[i] @ bank[j])
            term = math.log1p(math.exp(-abs(dot))) + max(dot, 0) - float(s[i, j]) * dot
            weight = 15 / similar if s[i, j] else 15 / (15 - similar)
            loss += weight * term
            total += 1
    assert float(balanced_likelihood(u, bank, s, 0.5)) == pytest.approx(loss / total, rel=1e-10)


def test_width_scales_each_level_to_a_multiple_of_its_heads() -> None:
    net = build_network(
        get_backbone("hybridhash"),
        0.3,
        None,
        16,
        1,
        create_method("hybridhash", bits=16).network_options(),
    )
    channels = [level.pos_embed.shape[-1] for level in net.trunk.levels]
    assert channels == [20, 40, 80]  # 64, 128, 256 x 0.3 to multiples of 2, 4, 8 heads


def test_the_shape_is_recorded_and_checked_before_any_data_is_read() -> None:
    params = create_method("hybridhash", bits=16).get_params()
    assert (params["backbone"], params["patch_size"], params["embed_dims"]) == (
        "hybridhash", 4, [64, 128, 256],
    )  # fmt: skip
    with pytest.raises(HashbenchError, match="one entry per level, got 3, 3 and 2"):
        create_method("hybridhash", bits=16, depths=[2, 2])
    with pytest.raises(HashbenchError, match="must give a token map divisible into 4 x 4"):
        create_method("hybridhash", bits=16, patch_size=16)  # 2 x 2 tokens


def test_any_width_builds_and_the_backbone_goes_only_with_its_method() -> None:
    assert network("scratch", bits=16, width=0.35) is not None  # 44 channels: 4 global heads
    with pytest.raises(HashbenchError, match="leave backbone at hybridhash"):
        create_method("hybridhash", bits=16, backbone="airbench")
    with pytest.raises(HashbenchError, match="HybridHash's own network"):
        build_network(get_backbone("hybridhash"), 1.0, None, 16, 1, {})
