"""The contract every registered method must keep, checked the same way for all of them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hashbench import HashbenchError, Subset, create_method, get_method, list_methods

#: Small settings so deep methods finish the contract in seconds on a CPU.
_TINY_DEEP = {
    "width": 0.125,
    "batch_size": 32,
    "warm_start_batch_size": 32,
    "warm_start_epochs": 1,
    "epochs": 2,
}
FAST_PARAMS: dict[str, dict[str, Any]] = {
    "dpsh": _TINY_DEEP,
    "dsh": _TINY_DEEP,
    "dmrh": _TINY_DEEP,
    "adsh": {**_TINY_DEEP, "samples": 64},
    "dsdh": _TINY_DEEP,
    "dch": _TINY_DEEP,
    "ddsh": {**_TINY_DEEP, "columns": 16},
    "hashnet": _TINY_DEEP,
    "csq": _TINY_DEEP,
    "hybridhash": {
        "batch_size": 32,
        "warm_start_batch_size": 32,
        "warm_start_epochs": 1,
        "epochs": 2,
        "embed_dims": [16, 32],
        "num_heads": [1, 2],
        "depths": [1, 1],
    },
    "fssh": {"sigma": 8.0},  # the toy features' scale (squared distances ~ 600), not GIST's
}


def toy_subset(input_kind: str, n: int = 120, seed: int = 0) -> Subset:
    """Three well-separated classes, as features (n, 32) or as tiny images (n, 32, 32, 3)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    if input_kind == "features":
        centres = rng.normal(size=(3, 32)) * 3
        inputs = (centres[labels] + rng.normal(size=(n, 32))).astype(np.float32)
    else:
        base = rng.integers(0, 256, size=(3, 32, 32, 3))
        noise = rng.integers(-20, 21, size=(n, 32, 32, 3))
        inputs = np.clip(base[labels] + noise, 0, 255).astype(np.uint8)
    return Subset(indices=np.arange(n), inputs=inputs, labels=labels)


def make(name: str, bits: int = 16, seed: int = 0):
    return create_method(name, bits=bits, seed=seed, **FAST_PARAMS.get(name, {}))


@pytest.fixture(params=list_methods())
def name(request: pytest.FixtureRequest) -> str:
    return request.param


def test_params_round_trip(name: str) -> None:
    method = make(name)
    params = method.get_params()
    assert params["bits"] == 16 and params["seed"] == 0
    assert type(method)(**params).get_params() == params


def test_encode_before_fit_is_refused(name: str) -> None:
    data = toy_subset(get_method(name).input_kind)
    with pytest.raises(HashbenchError, match="fit"):
        make(name).encode(data.inputs)


@pytest.mark.parametrize("bits", [0, -8])
def test_non_positive_bits_are_refused(name: str, bits: int) -> None:
    data = toy_subset(get_method(name).input_kind)
    with pytest.raises(HashbenchError, match="bits"):
        make(name, bits=bits).fit(data)


@pytest.mark.parametrize("bits", [8, 16])
def test_codes_are_bits_of_the_requested_length(name: str, bits: int) -> None:
    data = toy_subset(get_method(name).input_kind)
    method = make(name, bits=bits)
    assert method.fit(data) is method
    codes = method.encode(data.inputs)
    assert codes.shape == (len(data), bits) and codes.dtype == np.uint8
    assert set(np.unique(codes)) <= {0, 1}
    assert codes.std(axis=0).max() > 0, "every item got the same code"
    database_codes = method.encode_database(data)
    assert database_codes.shape == (len(data), bits) and database_codes.dtype == np.uint8


def test_same_seed_same_codes(name: str) -> None:
    data = toy_subset(get_method(name).input_kind)
    first = make(name, seed=3).fit(data).encode(data.inputs)
    second = make(name, seed=3).fit(data).encode(data.inputs)
    np.testing.assert_array_equal(first, second)
