"""Deep methods trained for real, tiny, on the CPU: learning, selection, resumption, caching."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fixtures.crash import Interrupted, crash_after_checkpoint

from hashbench import HashbenchError, Subset, create_method
from hashbench.deep import checkpoint, device, trainer
from hashbench.deep.trainer import HASHING, WARM_START, Trainer, run_fingerprint
from hashbench.errors import TrainingDiverged
from hashbench.evaluation.evaluator import mean_average_precision
from hashbench.method import without_added_defaults

#: Tiny but real: CNN geometry as in production, few channels, a few epochs.
TINY: dict[str, Any] = {
    "width": 0.125,
    "batch_size": 16,
    "warm_start_batch_size": 16,
    "warm_start_epochs": 1,
    "epochs": 2,
    "val_topk": None,
}
METHOD_SETTINGS: dict[str, dict[str, Any]] = {
    "dpsh": {},
    "dsh": {},
    "adsh": {"samples": 32, "inner_epochs": 1},
    "dmrh": {"regions": 2},
    "dsdh": {},
    "dch": {},
    "ddsh": {"columns": 16},
    "hashnet": {"stage_epochs": 1},
    "csq": {},
    "hybridhash": {"width": 1.0, "embed_dims": [16, 32], "num_heads": [1, 2], "depths": [1, 1]},
}


def separable_images(n: int, classes: int = 4, seed: int = 0, offset: int = 0) -> Subset:
    """32 x 32 images whose class sets the colour of each quadrant, plus pixel noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    palette = np.random.default_rng(99).integers(30, 226, size=(classes, 2, 2, 3))
    templates = palette.repeat(16, axis=1).repeat(16, axis=2)
    noise = rng.integers(-25, 26, size=(n, 32, 32, 3))
    images = np.clip(templates[labels] + noise, 0, 255).astype(np.uint8)
    return Subset(indices=np.arange(offset, offset + n), inputs=images, labels=labels)


@pytest.fixture(scope="module")
def train() -> Subset:
    return separable_images(64)


@pytest.fixture(scope="module")
def validation() -> Subset:
    return separable_images(24, seed=1, offset=64)


@pytest.fixture(autouse=True)
def on_one_cpu_thread(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tensors this small gain nothing from threads, which only contend on a busy machine."""
    monkeypatch.setenv("HASHBENCH_DEVICE", "cpu")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make(name: str, seed: int = 0, bits: int = 16, **settings: Any):
    return create_method(
        name, bits=bits, seed=seed, **{**TINY, **METHOD_SETTINGS[name], **settings}
    )


def without_timing(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k not in ("seconds", "cached")} for e in history]


def test_training_lowers_the_loss_and_beats_random_codes(train, validation) -> None:
    method = make("dmrh", warm_start_epochs=6, epochs=4).fit(train)
    for phase in (WARM_START, HASHING):
        losses = [entry["loss"] for entry in method.history_ if entry["phase"] == phase]
        assert losses[-1] < 0.9 * losses[0], phase
    queries = method.encode(validation.inputs)
    database = method.encode_database(train)
    learned = mean_average_precision(queries, database, validation.labels, train.labels, topk=None)
    rng = np.random.default_rng(0)
    chance = mean_average_precision(
        rng.integers(0, 2, queries.shape, dtype=np.uint8),
        rng.integers(0, 2, database.shape, dtype=np.uint8),
        validation.labels,
        train.labels,
        topk=None,
    )
    assert chance < 0.4 and learned > chance + 0.4


@pytest.mark.parametrize("name", sorted(METHOD_SETTINGS))
def test_history_and_the_kept_weights_come_from_the_best_validation_epoch(
    name: str, train: Subset, validation: Subset
) -> None:
    method = make(name, epochs=3).fit(train, validation)
    history = method.history_
    assert [(e["phase"], e["epoch"]) for e in history] == [
        (WARM_START, 1),
        (HASHING, 1),
        (HASHING, 2),
        (HASHING, 3),
    ]
    assert {"loss", "seconds", "val_accuracy"} <= set(history[0])
    hashing = [e for e in history if e["phase"] == HASHING]
    best = max(hashing, key=lambda e: e["val_map"])
    assert [e.get("selected", False) for e in hashing] == [e is best for e in hashing]
    # The codes the method gives now reproduce the selected epoch's validation mAP: each half
    # of the validation items (alternate ones) searching the other.
    codes, labels = method.encode(validation.inputs), validation.labels
    even, odd = slice(0, None, 2), slice(1, None, 2)
    per_query = [
        mean_average_precision(codes[q], codes[d], labels[q], labels[d], topk=None) * len(labels[q])
        for q, d in ((even, odd), (odd, even))
    ]
    assert sum(per_query) / len(labels) == pytest.approx(best["val_map"], abs=1e-4)


@pytest.mark.parametrize("name", ["dpsh", "adsh"])
def test_validation_against_the_training_items_selects_by_their_codes(
    name: str, train: Subset, validation: Subset
) -> None:
    method = make(name, epochs=3, val_database="training").fit(train, validation)
    best = max((e for e in method.history_ if e["phase"] == HASHING), key=lambda e: e["val_map"])
    assert best.get("selected")
    queries = method.encode(validation.inputs)
    database = method.encode_database(train)  # ADSH: its learned codes V
    score = mean_average_precision(queries, database, validation.labels, train.labels, topk=None)
    assert score == pytest.approx(best["val_map"], abs=1e-4)


def test_dmrh_code_is_the_sign_of_the_mean_of_its_regional_outputs(train) -> None:
    method = make("dmrh", regions=3, warm_start_epochs=0, epochs=1).fit(train)
    images = torch.from_numpy(train.inputs[:8]).permute(0, 3, 1, 2)
    with torch.no_grad():
        regional = method.network_(images)  # (8, K, 3, 3): one code per region
    assert regional.shape == (8, 16, 3, 3)
    fused = regional.mean(dim=(2, 3))
    assert not torch.allclose(regional[:, :, 0, 0], fused)  # regions do differ
    np.testing.assert_array_equal(method.encode(train.inputs[:8]), (fused > 0).numpy())


def test_test_flips_code_an_image_and_its_mirror_image_alike(train) -> None:
    mirrored = np.ascontiguousarray(train.inputs[:, :, ::-1])
    images = torch.from_numpy(train.inputs[:8])

    def views(method: Any) -> list[torch.Tensor]:
        """The network's fused outputs for the images and their mirror images."""
        with torch.no_grad(), device.autocast(torch.device("cpu")):
            return [method.network_.regional(x.permute(0, 3, 1, 2)).mean(dim=1)
                    for x in (images, images.flip(2))]  # fmt: skip

    # Without flips the network itself does not see an image and its mirror image alike (its
    # bits may still agree where the tiny network's codes collapse), so the test can fail.
    plain = views(make("dpsh", test_flips=False, lr=0.1).fit(train))
    assert not torch.allclose(plain[0], plain[1], atol=1e-3)
    flips = make("dpsh", test_flips=True, lr=0.1).fit(train)
    np.testing.assert_array_equal(flips.encode(train.inputs), flips.encode(mirrored))
    # The mean of the two views' outputs (in the precision encoding uses), not either alone.
    seen = views(flips)
    np.testing.assert_array_equal(
        flips.encode(train.inputs[:8]), ((seen[0] + seen[1]) / 2 > 0).numpy()
    )


def test_each_phase_batches_at_its_own_size(train: Subset) -> None:
    trainer = Trainer(make("dpsh", warm_start_batch_size=8, batch_size=32), train, None)
    assert [len(b) for b in trainer.shuffled_batches()] == [8] * 8
    trainer.start_hashing()
    assert [len(b) for b in trainer.shuffled_batches()] == [32, 32]


def test_dmrh_pairs_batches_with_every_training_item_only_with_a_bank(train) -> None:
    banked = make("dmrh", bank=True, warm_start_epochs=0, epochs=1).fit(train)
    assert banked.bank_.shape == (len(train), 16)
    assert bool((banked.bank_.abs().sum(dim=1) > 0).all())  # every item's codes were stored
    in_batch = make("dmrh", bank=False, warm_start_epochs=0, epochs=1).fit(train)
    assert not hasattr(in_batch, "bank_") and in_batch.training_state() == {}


def test_a_bank_starts_empty_where_an_epoch_fills_it_and_full_where_one_cannot(train) -> None:
    """The pair term is a mean over the bank: rows that epochs of epoch_size items leave
    unvisited for a while start as the network's codes, not zeros that shrink the term."""
    whole = Trainer(make("dsdh"), train, None)
    whole.start_hashing()
    assert not whole.method.bank_.any()  # the authors' zeros: the first epoch visits all 64
    partial = Trainer(make("dsdh", epoch_size=24), train, None)
    partial.start_hashing()
    codes = partial.training_set_codes()
    torch.testing.assert_close(partial.method.bank_, codes.float().tanh())  # DSDH's relaxation
    assert partial.method.bank_.any()


def test_a_resumed_bank_is_the_checkpoint_s_not_a_second_encoding_of_every_item(
    train: Subset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    interrupted = Trainer(make("dsdh", epoch_size=24), train, None)
    interrupted.method.workspace = tmp_path
    interrupted.start_hashing()
    interrupted.method.bank_[:5] = 0.5  # as a hashing epoch leaves it
    interrupted.save_checkpoint()

    def refused(*args: Any) -> None:
        raise AssertionError("a resumed run encoded the training items")

    monkeypatch.setattr(Trainer, "training_set_codes", refused)
    resumed = Trainer(make("dsdh", epoch_size=24), train, None)
    resumed.method.workspace = tmp_path
    assert resumed.resume() and resumed.phase == HASHING
    torch.testing.assert_close(resumed.method.bank_, interrupted.method.bank_)


def test_same_seed_same_training_other_seed_other_codes(train) -> None:
    first = make("dmrh", seed=5).fit(train)
    second = make("dmrh", seed=5).fit(train)
    assert without_timing(first.history_) == without_timing(second.history_)
    np.testing.assert_array_equal(first.encode(train.inputs), second.encode(train.inputs))
    other = make("dmrh", seed=6).fit(train)
    assert not np.array_equal(first.encode(train.inputs), other.encode(train.inputs))


@pytest.mark.parametrize(
    ("name", "phase", "epoch", "own"),
    [
        ("adsh", HASHING, 1, {}),
        ("dpsh", WARM_START, 1, {}),
        ("dmrh", HASHING, 2, {}),
        ("dmrh", HASHING, 2, {"bank": True}),
        ("dsdh", HASHING, 1, {}),
        ("dsdh", HASHING, 2, {"epoch_size": 24}),  # a bank started as the network's codes
        ("dch", HASHING, 1, {}),
        ("ddsh", HASHING, 2, {}),
        ("hashnet", HASHING, 2, {}),
        ("csq", HASHING, 1, {}),
    ],
)
def test_an_interrupted_fit_resumes_from_its_checkpoint_and_ends_the_same(
    name: str,
    phase: str,
    epoch: int,
    own: dict[str, Any],
    train: Subset,
    validation: Subset,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = {"warm_start_epochs": 2, "epochs": 3, **own}
    reference = make(name, **settings)
    reference.workspace = tmp_path / "uninterrupted"
    reference.fit(train, validation)

    monkeypatch.setenv("HASHBENCH_CACHE", str(tmp_path / "fresh-cache"))
    interrupted = make(name, **settings)
    interrupted.workspace = tmp_path / "interrupted"
    with crash_after_checkpoint(phase, epoch), pytest.raises(Interrupted):
        interrupted.fit(train, validation)

    epochs_run: list[tuple[str, int]] = []
    run_epoch = Trainer.run_epoch

    def counting(trainer: Trainer, index: int, total: int) -> float:
        epochs_run.append((trainer.phase, index + 1))
        return run_epoch(trainer, index, total)

    monkeypatch.setattr(Trainer, "run_epoch", counting)
    resumed = make(name, **settings)
    resumed.workspace = interrupted.workspace
    resumed.fit(train, validation)

    everything = [(WARM_START, 1), (WARM_START, 2), (HASHING, 1), (HASHING, 2), (HASHING, 3)]
    assert epochs_run == everything[everything.index((phase, epoch)) + 1 :]
    # the time the interrupted process spent comes back with its checkpoint
    assert reference.carried_ == {"wall_s": 0.0, "cpu_s": 0.0}
    assert resumed.carried_["wall_s"] > 0 and resumed.carried_["cpu_s"] > 0
    assert without_timing(resumed.history_) == without_timing(reference.history_)
    for kept, expected in zip(
        resumed.network_.state_dict().values(),
        reference.network_.state_dict().values(),
        strict=True,
    ):
        assert torch.equal(kept, expected)
    np.testing.assert_array_equal(resumed.encode_database(train), reference.encode_database(train))


def test_a_checkpoint_of_another_run_is_refused(train, tmp_path: Path) -> None:
    first = make("dsh")
    first.workspace = tmp_path
    first.fit(train)
    other = make("dsh", alpha=0.5)
    other.workspace = tmp_path
    with pytest.raises(HashbenchError, match="checkpoint of a different run"):
        other.fit(train)


def test_checkpoints_and_warm_starts_are_kept_per_device_type_not_per_gpu(
    train: Subset, validation: Subset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(device.PRECISION_VARIABLE, "bf16")  # the same on either device
    method = make("dpsh")
    on = {name: torch.device(name) for name in ("cpu", "cuda", "cuda:1")}
    fingerprints = {name: run_fingerprint(method, train, validation, d) for name, d in on.items()}
    assert fingerprints["cpu"] != fingerprints["cuda"] == fingerprints["cuda:1"]
    # On the CPU as before the device was named, so checkpoints in flight stay valid.
    params = without_added_defaults(method.get_params())
    before = checkpoint.digest(
        {**params, "precision": "bf16"}, train.indices, train.labels, validation.indices
    )
    assert fingerprints["cpu"] == before
    keys = {}
    for name, where in on.items():
        run = Trainer(method, train, validation)  # built on the CPU; the key reads .device
        run.device = where
        keys[name] = run.warm_start_key
    assert keys["cpu"] != keys["cuda"] == keys["cuda:1"]


@pytest.mark.parametrize("saved_in", ["workspace", "warm-start cache"])
def test_a_random_state_that_cannot_be_restored_is_one_line_naming_the_file(
    saved_in: str, train: Subset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASHBENCH_CACHE", str(tmp_path / "cache"))
    first = make("dpsh")
    first.workspace = tmp_path / "workspace" if saved_in == "workspace" else None
    first.fit(train)
    files = [tmp_path / "workspace" / checkpoint.CHECKPOINT_NAME]
    if saved_in != "workspace":
        files = list((tmp_path / "cache" / "warm-start").glob("*.pt"))
    (path,) = files
    state = checkpoint.load(path)
    assert state is not None
    state["random"]["augmenter"] = torch.zeros(16, dtype=torch.uint8)  # a CUDA stream's state
    checkpoint.save(path, state)
    again = make("dpsh")
    again.workspace = first.workspace
    with pytest.raises(HashbenchError) as raised:
        again.fit(train)
    message = str(raised.value)
    assert "\n" not in message and f"saved in {path} cannot be restored on cpu" in message
    assert message.endswith(f"delete {path} to train afresh")


@pytest.mark.parametrize("name", ["dpsh", "adsh", "ddsh"])
def test_a_finished_fit_frees_its_trainer_without_the_cyclic_collector(
    name: str, train: Subset, validation: Subset, monkeypatch: pytest.MonkeyPatch
) -> None:
    alive: list[weakref.ref] = []
    build = Trainer.__init__

    def remembered(run: Trainer, *args: Any) -> None:
        build(run, *args)
        alive.extend(weakref.ref(part) for part in (run, run.images, run.validation_images))

    monkeypatch.setattr(Trainer, "__init__", remembered)
    gc.collect()
    gc.disable()
    try:
        method = make(name).fit(train, validation)
        assert alive and [ref() for ref in alive] == [None] * len(alive)
    finally:
        gc.enable()
    assert method.encode(train.inputs[:2]).shape == (2, 16)  # the method keeps its network


def test_the_warm_start_is_trained_once_and_shared_by_methods_and_code_lengths(
    train: Subset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dpsh = make("dpsh", bits=16).fit(train)
    dsh = make("dsh", bits=32).fit(train)  # same recipe, seed and data: the cached warm start
    warm = [e for e in dsh.history_ if e["phase"] == WARM_START]
    assert warm and all(e["cached"] for e in warm)
    assert without_timing(warm) == without_timing(dpsh.history_[: len(warm)])
    monkeypatch.setenv("HASHBENCH_CACHE", str(tmp_path / "empty"))
    uncached = make("dsh", bits=32).fit(train)
    assert not any(e.get("cached") for e in uncached.history_)
    np.testing.assert_array_equal(dsh.encode(train.inputs), uncached.encode(train.inputs))
    # DMRH fine-tunes the shared warm start at its own 40-pixel input ...
    dmrh = make("dmrh").fit(train)
    assert without_timing([e for e in dmrh.history_ if e["phase"] == WARM_START]) == (
        without_timing(warm)
    )
    assert dmrh.network_.input_size == 40
    # ... unless it trains its own there (region-averaged logits: another warm start).
    own = make("dmrh", own_warm_start=True).fit(train)
    assert not any(e.get("cached") for e in own.history_)
    other = "fp32" if device.precision(torch.device("cpu")) == "bf16" else "bf16"
    monkeypatch.setenv("HASHBENCH_PRECISION", other)  # another precision: its own too
    in_bf16 = make("dsh", bits=32).fit(train)
    assert not any(e.get("cached") for e in in_bf16.history_)
    monkeypatch.delenv("HASHBENCH_PRECISION")
    by_adamw = make("dsh", bits=32, warm_start_optimizer="adamw").fit(train)
    assert not any(e.get("cached") for e in by_adamw.history_)  # another optimiser: its own
    hashing_batch = make("dsh", bits=32, batch_size=8).fit(train)  # the warm start's is 16
    assert all(e["cached"] for e in hashing_batch.history_ if e["phase"] == WARM_START)
    warm_batch = make("dsh", bits=32, warm_start_batch_size=8).fit(train)
    assert not any(e.get("cached") for e in warm_batch.history_)  # another batch: its own


@pytest.mark.parametrize(
    ("settings", "warm_start", "hashing"),
    [({}, torch.optim.SGD, torch.optim.SGD),
     ({"warm_start_optimizer": "adamw", "optimizer": "rmsprop"}, torch.optim.AdamW,
      torch.optim.RMSprop),
     ({"warm_start_optimizer": "adam", "optimizer": "adamw"}, torch.optim.Adam,
      torch.optim.AdamW)],
)  # fmt: skip
def test_each_phase_trains_with_its_own_optimiser(
    train: Subset, settings: dict[str, str], warm_start: type, hashing: type
) -> None:
    trainer = Trainer(make("dpsh", weight_decay=0.01, **settings), train, None)
    assert trainer.phase == WARM_START and type(trainer.optimizer) is warm_start
    trainer.start_hashing()
    assert type(trainer.optimizer) is hashing
    assert trainer.optimizer.param_groups[0]["weight_decay"] == 0.01


def test_adsh_codes_its_training_items_with_v_and_others_with_the_network(
    train: Subset, validation: Subset
) -> None:
    method = make("adsh").fit(train)
    both = Subset(
        indices=np.concatenate([validation.indices, train.indices[::-1]]),
        inputs=np.concatenate([validation.inputs, train.inputs[::-1]]),
        labels=np.concatenate([validation.labels, train.labels[::-1]]),
    )
    codes = method.encode_database(both)
    learned = (method.database_codes_.numpy() > 0).astype(np.uint8)
    np.testing.assert_array_equal(codes[len(validation) :], learned[::-1])
    np.testing.assert_array_equal(codes[: len(validation)], method.encode(validation.inputs))
    assert method.report_["database_encoded"] == len(validation)
    assert method.report_["database_learned_codes"] == len(train)
    with pytest.raises(HashbenchError, match="fit"):
        make("adsh").encode_database(train)


def test_a_diverging_fit_stops_with_one_line_naming_the_run(train: Subset) -> None:
    method = make("dpsh", lr=1000.0, warm_start_epochs=0, epochs=6, schedule="constant")
    with pytest.raises(TrainingDiverged) as raised:
        method.fit(train)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("dpsh 16 bits seed 0 diverged in the hashing phase at epoch ")
    assert "(learning rate 1e+03)" in message and "--set dpsh.lr" in message
    assert not getattr(method, "fitted_", False)


def test_a_converging_fit_is_not_taken_for_a_divergence(train: Subset) -> None:
    method = make("dpsh", warm_start_epochs=0, epochs=4).fit(train)
    losses = [entry["loss"] for entry in method.history_]
    assert all(np.isfinite(losses)) and max(losses) <= 100 * losses[0]


@pytest.mark.parametrize(
    ("requested", "has_bf16", "expected"),
    [
        ("", True, "bf16"),
        ("auto", False, "fp32"),
        ("fp32", True, "fp32"),
        ("bf16", False, "bf16"),
    ],
)
def test_precision_follows_the_cpu_unless_forced(
    monkeypatch: pytest.MonkeyPatch, requested: str, has_bf16: bool, expected: str
) -> None:
    monkeypatch.setenv(device.PRECISION_VARIABLE, requested)
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: has_bf16)
    assert device.precision(torch.device("cpu")) == expected
    layer = torch.nn.Linear(4, 2)
    with device.autocast(torch.device("cpu")):
        out = layer(torch.ones(3, 4))
    assert out.dtype == (torch.bfloat16 if expected == "bf16" else torch.float32)


def test_an_unknown_precision_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(device.PRECISION_VARIABLE, "fp8")
    with pytest.raises(HashbenchError, match="HASHBENCH_PRECISION='fp8'; choose one of auto"):
        device.precision(torch.device("cpu"))


def test_under_bf16_the_losses_still_see_float32(
    monkeypatch: pytest.MonkeyPatch, train: Subset
) -> None:
    monkeypatch.setenv(device.PRECISION_VARIABLE, "bf16")
    method = make("dmrh", warm_start_epochs=0, epochs=1)
    seen: list[torch.dtype] = []
    loss = type(method).batch_loss

    def spy(self, trainer, codes, indices):
        seen.append(codes.dtype)
        return loss(self, trainer, codes, indices)

    monkeypatch.setattr(type(method), "batch_loss", spy)
    method.fit(train)
    assert seen and set(seen) == {torch.float32}
    assert method.report_["precision"] == "bf16"


def test_epochs_of_epoch_size_walk_a_running_shuffle(train: Subset) -> None:
    trainer = Trainer(make("dpsh", epoch_size=24, warm_start_batch_size=8), train, None)
    seen = []
    for epoch in range(8):  # 8 epochs of 24 items: 3 passes over the 64 items
        trainer.epoch = epoch
        batches = trainer.shuffled_batches()
        assert [len(b) for b in batches] == [8, 8, 8]
        seen.append(torch.cat(batches))
    stream = torch.cat(seen)
    for number in range(3):  # each pass holds every item once, in its own order
        one_pass = stream[64 * number : 64 * (number + 1)]
        assert sorted(one_pass.tolist()) == list(range(64))
    assert not torch.equal(stream[:64], stream[64:128])
    trainer.epoch = 5  # the same epoch gives the same items (a resumed run sees the same)
    assert torch.equal(torch.cat(trainer.shuffled_batches()), seen[5])
    trainer.start_hashing()  # the hashing phase walks a shuffle of its own
    assert not torch.equal(trainer.epoch_items(), seen[0])


def test_an_epoch_size_of_n_or_more_changes_nothing(train: Subset) -> None:
    capped = Trainer(make("dpsh", epoch_size=64), train, None)
    plain = Trainer(make("dpsh"), train, None)
    for each in (capped, plain):
        each.start_hashing()
    assert torch.equal(torch.cat(capped.shuffled_batches()), torch.cat(plain.shuffled_batches()))
    sampled = torch.arange(40)  # a method's own items (ADSH's sample) are capped too
    capped = Trainer(make("dpsh", epoch_size=32), train, None)
    capped.start_hashing()
    assert sum(len(b) for b in capped.shuffled_batches(sampled)) == 32


def test_clipping_bounds_each_hashing_step(train: Subset) -> None:
    """Plain SGD moves the weights by lr times the gradient: at most lr x clip a step, clipped."""
    settings = {"warm_start_epochs": 0, "momentum": 0.0, "weight_decay": 0.0, "lr": 1.0}
    steps = {}
    for clip in (None, 0.001):
        trainer = Trainer(make("dpsh", schedule="constant", clip_grad_norm=clip, **settings),
                          train, None)  # fmt: skip
        trainer.start_hashing()
        before = torch.cat([p.detach().flatten().clone() for p in trainer.network.parameters()])
        trainer.run_epoch(0, 1)
        after = torch.cat([p.detach().flatten() for p in trainer.network.parameters()])
        steps[clip] = float((after - before).norm())
    batches = 64 // 16
    assert steps[0.001] <= batches * 1.0 * 0.001 * (1 + 1e-4)
    assert steps[None] > 2 * batches * 1.0 * 0.001  # the bound did bind


@pytest.mark.parametrize("name", ["dpsh", "adsh"])
def test_validation_can_search_a_sample_of_the_training_items(
    name: str, train: Subset, validation: Subset
) -> None:
    method = make(name, epochs=1, val_database="training", val_database_size=20)
    trainer = Trainer(method, train, validation)
    trainer.fit()
    items = trainer.validation_database_items
    assert len(items) == len(set(items.tolist())) == 20
    np.testing.assert_array_equal(items.numpy(), np.sort(items.numpy()))
    queries = (trainer.validation_codes() > 0).numpy()
    database = (method.validation_database(trainer.context, items) > 0).numpy()
    if name == "adsh":  # its learned codes V of those items, not the network's
        np.testing.assert_array_equal(database, (method.database_codes_[items] > 0).numpy())
    labels = train.labels[items.numpy()]
    score = mean_average_precision(queries, database, validation.labels, labels, topk=None)
    selected = [e for e in trainer.history if e.get("selected")]
    assert score == pytest.approx(selected[0]["val_map"], abs=1e-4)


@pytest.mark.cuda
def test_on_cuda_a_fit_says_so_and_refuses_a_cpu_checkpoint_in_one_line(
    train: Subset, validation: Subset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(device.PRECISION_VARIABLE, "bf16")  # as on the Xeon and an Ampere GPU
    on_cpu = make("dpsh")
    on_cpu.workspace = tmp_path
    on_cpu.fit(train, validation)
    monkeypatch.setenv("HASHBENCH_DEVICE", "cuda")
    on_gpu = make("dpsh")
    on_gpu.workspace = tmp_path
    with pytest.raises(HashbenchError, match="checkpoint of a different run; delete it"):
        on_gpu.fit(train, validation)
    fresh = make("dpsh").fit(train, validation)
    assert fresh.report_ == {"device": "cuda", "precision": "bf16"}


@pytest.mark.cuda
@pytest.mark.parametrize("precision", ["fp32", "tf32"])
def test_on_cuda_tf32_runs_only_when_asked(
    precision: str, train: Subset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASHBENCH_DEVICE", "cuda")
    monkeypatch.setenv(device.PRECISION_VARIABLE, precision)
    method = make("dpsh").fit(train)
    assert method.report_["precision"] == precision
    assert torch.backends.cuda.matmul.allow_tf32 is torch.backends.cudnn.allow_tf32
    assert torch.backends.cudnn.allow_tf32 is (precision == "tf32")


@pytest.mark.cuda
def test_on_cuda_a_set_over_the_memory_budget_trains_from_pinned_batches_and_resumes(
    train: Subset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASHBENCH_DEVICE", "cuda")
    monkeypatch.setattr(trainer, "staging_budget", lambda _: 0.0)

    def pinned(run: Trainer) -> None:
        assert run.images.device.type == "cpu"

    interrupted = make("dpsh")
    interrupted.workspace = tmp_path
    with crash_after_checkpoint(HASHING, 1, pinned), pytest.raises(Interrupted):
        interrupted.fit(train)
    resumed = make("dpsh")
    resumed.workspace = tmp_path
    resumed.fit(train)
    assert [(e["phase"], e["epoch"]) for e in resumed.history_] == [
        (WARM_START, 1), (HASHING, 1), (HASHING, 2)
    ]  # fmt: skip
    assert all(np.isfinite(e["loss"]) for e in resumed.history_)
    assert resumed.report_["device"] == "cuda"
