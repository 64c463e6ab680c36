"""The deep engine's parts: device choice, augmentation, schedules, presets and parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hashbench import HashbenchError, create_method
from hashbench.deep import device, trainer
from hashbench.deep.augment import augment
from hashbench.deep.device import (
    DEVICE_VARIABLE,
    PRECISION_VARIABLE,
    WORKERS_PER_GPU_VARIABLE,
    select_device,
    staging_budget,
    worker_placement,
)
from hashbench.deep.recipes import RECIPE_FIELDS, SCRATCH, learning_rate, resolve
from hashbench.methods.dpsh import DPSH

#: Each loss's own scale: ADSH's squared inner products grow with K^2, DPSH's likelihood not.
DEEP = ("dpsh", "dmrh", "dsh", "adsh", "dsdh", "dch", "ddsh", "hashnet", "csq")


def test_device_is_cuda_when_present_else_cpu_and_the_variable_overrides(monkeypatch) -> None:
    monkeypatch.delenv("HASHBENCH_DEVICE", raising=False)
    assert select_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setenv("HASHBENCH_DEVICE", "cpu")
    assert select_device() == torch.device("cpu")
    monkeypatch.setenv("HASHBENCH_DEVICE", "gpu please")
    with pytest.raises(HashbenchError, match="HASHBENCH_DEVICE='gpu please' is not a device"):
        select_device()
    monkeypatch.setenv("HASHBENCH_DEVICE", "cuda:99")
    with pytest.raises(HashbenchError, match="HASHBENCH_DEVICE='cuda:99'"):
        select_device()


@pytest.fixture
def three_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the device functions ask of PyTorch, answered as on a machine with 3 GPUs."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.delenv(DEVICE_VARIABLE, raising=False)


def test_local_workers_spread_over_the_gpus_and_know_who_shares_theirs(three_gpus) -> None:
    placements = [worker_placement(worker, 5) for worker in range(5)]
    devices = [placement[DEVICE_VARIABLE] for placement in placements]
    assert devices == ["cuda:0", "cuda:1", "cuda:2", "cuda:0", "cuda:1"]
    for placement in placements:
        sharing = devices.count(placement[DEVICE_VARIABLE])
        assert placement[WORKERS_PER_GPU_VARIABLE] == str(sharing)
    assert worker_placement(0, 1) == {DEVICE_VARIABLE: "cuda:0", WORKERS_PER_GPU_VARIABLE: "1"}


def test_a_device_the_user_named_holds_for_every_local_worker(
    three_gpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DEVICE_VARIABLE, "cuda")  # any GPU: spread as when unset
    assert worker_placement(4, 5)[DEVICE_VARIABLE] == "cuda:1"
    monkeypatch.setenv(DEVICE_VARIABLE, "cuda:2")  # this GPU: all of them on it, all sharing
    assert [worker_placement(w, 4) for w in range(4)] == [{WORKERS_PER_GPU_VARIABLE: "4"}] * 4
    monkeypatch.setenv(DEVICE_VARIABLE, "cpu")
    assert worker_placement(1, 4) == {}
    monkeypatch.delenv(DEVICE_VARIABLE)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert worker_placement(1, 4) == {}


def test_staging_budget_is_half_the_free_memory_and_half_a_workers_share_at_most(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gib = 2**30
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda _: (30 * gib, 80 * gib))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda _: 12 * gib)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda _: 2 * gib)
    gpu = torch.device("cuda:0")
    monkeypatch.delenv(WORKERS_PER_GPU_VARIABLE, raising=False)
    # Free as the driver sees it, plus the 10 GiB this process's allocator caches unused.
    assert staging_budget(gpu) == (30 + 12 - 2) / 2 * gib
    monkeypatch.setenv(WORKERS_PER_GPU_VARIABLE, "4")
    assert staging_budget(gpu) == 80 / 4 / 2 * gib
    monkeypatch.setenv(WORKERS_PER_GPU_VARIABLE, "2")
    assert staging_budget(gpu) == (30 + 12 - 2) / 2 * gib  # its share, 40 GiB, is not the limit
    monkeypatch.setenv(WORKERS_PER_GPU_VARIABLE, "two")
    with pytest.raises(HashbenchError, match="HASHBENCH_WORKERS_PER_GPU='two' must be a positive"):
        staging_budget(gpu)


def test_a_training_set_over_the_budget_stays_in_ordinary_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(trainer, "staging_budget", lambda _: 100.0)
    images = np.zeros((5, 4, 4, 3), np.uint8)  # 240 bytes
    staged = trainer.stage_images(images, torch.device("cuda"))
    assert staged.device.type == "cpu" and not staged.is_pinned()  # no pinned second copy
    np.testing.assert_array_equal(staged.numpy(), images)


@pytest.mark.parametrize(
    ("requested", "chosen"), [("", "bf16"), ("fp32", "fp32"), ("bf16", "bf16"), ("tf32", "tf32")]
)
def test_tf32_only_when_the_precision_says_so(
    requested: str, chosen: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda _=None: (9, 0))
    monkeypatch.setenv(PRECISION_VARIABLE, requested)
    flags = torch.backends.cuda.matmul, torch.backends.cudnn
    saved = [flag.allow_tf32 for flag in flags], torch.backends.cudnn.benchmark
    try:
        device.configure(torch.device("cuda"))
        assert [flag.allow_tf32 for flag in flags] == [chosen == "tf32"] * 2
    finally:
        for flag, value in zip(flags, saved[0], strict=True):
            flag.allow_tf32 = value
        torch.backends.cudnn.benchmark = saved[1]
    assert device.precision(torch.device("cuda")) == chosen


@pytest.mark.parametrize(("where", "capability"), [("cpu", None), ("cuda", (7, 5))])
def test_tf32_where_it_does_not_exist_is_refused(
    where: str, capability: tuple[int, int] | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda _=None: capability)
    monkeypatch.setenv(PRECISION_VARIABLE, "tf32")
    with pytest.raises(HashbenchError, match=f"tf32 needs a CUDA GPU .* this run is on {where}"):
        device.precision(torch.device(where))


def random_images(n: int, size: int = 6) -> torch.Tensor:
    return torch.randint(0, 256, (n, size, size + 1, 3), dtype=torch.uint8)


def test_flips_mirror_about_half_of_the_images() -> None:
    images = random_images(64)
    out = augment(images, flip=True, translate=0, generator=torch.Generator().manual_seed(0))
    assert out.shape == (64, 3, 6, 7) and out.dtype == torch.uint8
    assert out.is_contiguous(memory_format=torch.channels_last)
    channels_first = images.permute(0, 3, 1, 2)
    kept = (out == channels_first).flatten(1).all(dim=1)
    mirrored = (out == channels_first.flip(-1)).flatten(1).all(dim=1)
    assert bool((kept | mirrored).all())
    assert 10 < int(mirrored.sum()) < 54


def test_translations_are_crops_of_the_reflection_padded_image() -> None:
    images, shift = random_images(32), 2
    out = augment(images, flip=False, translate=shift, generator=torch.Generator().manual_seed(1))
    seen = set()
    for image, moved in zip(images.numpy(), out.permute(0, 2, 3, 1).numpy(), strict=True):
        padded = np.pad(image, ((shift, shift), (shift, shift), (0, 0)), mode="reflect")
        matches = [
            (dy, dx)
            for dy in range(2 * shift + 1)
            for dx in range(2 * shift + 1)
            if np.array_equal(padded[dy : dy + 6, dx : dx + 7], moved)
        ]
        assert matches, "an augmented image is no crop of its padded original"
        seen.update(matches)
    assert len(seen) > 10  # the shifts vary over the whole range


def test_learning_rate_schedules() -> None:
    onecycle = SCRATCH  # warm-up over the first 20% of the steps, then linear decay to 0
    assert learning_rate(onecycle, 1.0, 10, 1, 0.0) == pytest.approx(0.5)
    assert learning_rate(onecycle, 1.0, 10, 6, 0.0) == pytest.approx(0.5)
    assert learning_rate(onecycle, 1.0, 10, 9, 0.99) == pytest.approx(0.00125)
    step = resolve("dpsh", "scratch", {"schedule": "step", "lr_step_epochs": 50})
    assert [learning_rate(step, 1.0, 150, e, 0.5) for e in (0, 49, 50, 149)] == pytest.approx(
        [1, 1, 0.1, 0.01]
    )
    exponential = resolve("adsh", "scratch", {"schedule": "exponential"})
    assert learning_rate(exponential, 1e-4, 50, 0, 0.5) == pytest.approx(1e-4)
    assert learning_rate(exponential, 1e-4, 50, 49, 0.5) == pytest.approx(1e-6)
    constant = resolve("dsh", "scratch", {"schedule": "constant"})
    assert learning_rate(constant, 0.3, 5, 4, 0.9) == 0.3


def test_scratch_is_the_default_and_any_setting_can_be_overridden() -> None:
    method = create_method("dpsh", bits=32, epochs=3, backbone="cnnf")
    params = method.get_params()
    assert params["preset"] == "scratch" and params["epochs"] == 3
    assert params["backbone"] == "cnnf" and params["warm_start_epochs"] == SCRATCH.warm_start_epochs
    assert type(method)(**params).get_params() == params


def test_scratch_is_one_recipe_but_for_each_losss_learning_rate() -> None:
    params = {name: create_method(name, bits=16).get_params() for name in DEEP}
    shared = [name for name in RECIPE_FIELDS if name != "lr"]
    for name, values in params.items():
        assert {f: values[f] for f in shared} == {f: getattr(SCRATCH, f) for f in shared}, name


def test_paper_preset_takes_each_papers_settings(tmp_path) -> None:
    weights = tmp_path / "imagenet-vgg-f.mat"
    weights.touch()  # a weights file must exist; it is read only when the network is built
    dpsh = create_method("dpsh", bits=24, preset="paper", weights=weights).get_params()
    assert (dpsh["backbone"], dpsh["lr"], dpsh["batch_size"], dpsh["epochs"]) == (
        "cnnf",
        0.05,
        128,
        150,
    )
    assert dpsh["warm_start_epochs"] == 0 and dpsh["flip"] is False and dpsh["translate"] == 0
    assert dpsh["test_flips"] is False
    dmrh = create_method("dmrh", bits=24, preset="paper", weights=weights).get_params()
    assert (dmrh["lr"], dmrh["batch_size"], dmrh["eta"], dmrh["regions"]) == (0.1, 32, 0.02, 2)
    adsh = create_method("adsh", bits=24, preset="paper", weights=weights).get_params()
    assert (adsh["schedule"], adsh["gamma"], adsh["samples"]) == ("exponential", 200.0, 2000)
    dsh = create_method("dsh", bits=24, preset="paper", weights=weights).get_params()
    assert (dsh["lr"], dsh["weight_decay"], dsh["alpha"]) == (1e-3, 4e-3, 0.01)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"preset": "paper"}, r"preset 'paper' fine-tunes cnnf .* --set dpsh.weights=PATH"),
        ({"preset": "fastest"}, "unknown preset 'fastest'"),
        ({"epoch": 3}, "dpsh has no settable parameter epoch"),
        ({"epochs": 0}, "epochs must be an integer >= 1"),
        ({"batch_size": 1}, "batch_size must be an integer >= 2"),
        ({"warm_start_batch_size": 0}, "warm_start_batch_size must be an integer >= 2"),
        ({"schedule": "cosine"}, "schedule must be one of onecycle, .*, got 'cosine'"),
        ({"backbone": "vgg16"}, "backbone must be one of airbench, cnnf, .*, got 'vgg16'"),
        ({"lr": 0}, "lr must be a number > 0, got 0"),
        ({"lr": "fast"}, "lr must be a number > 0, got .fast."),
        ({"lr": float("nan")}, "lr must be a number > 0, got nan"),
        ({"val_topk": "abc"}, "val_topk must be null or an integer >= 1, got 'abc'"),
        ({"momentum": 1.5}, r"momentum must be a number in \[0, 1\), got 1.5"),
        ({"val_database": "queries"}, "val_database must be one of validation, training, got"),
    ],
)
def test_impossible_settings_are_refused_at_construction(settings: dict, message: str) -> None:
    with pytest.raises(HashbenchError, match=message):
        DPSH(bits=16, **settings)


def test_method_specific_settings_are_checked() -> None:
    with pytest.raises(HashbenchError, match="regions"):
        create_method("dmrh", bits=16, regions=0)
    with pytest.raises(HashbenchError, match="samples"):
        create_method("adsh", bits=16, samples=0)
