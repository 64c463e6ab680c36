"""Registry lookups, wildcards and the errors users see for wrong names and settings."""

from __future__ import annotations

import pytest

from hashbench import HashbenchError, HashingMethod, create_method, list_methods
from hashbench.registry import MethodRegistry, check_params


def test_builtin_methods_are_found_and_filtered() -> None:
    assert "lsh" in list_methods()
    assert list_methods("l*") == [name for name in list_methods() if name.startswith("l")]
    assert list_methods("no-such-*") == []


def test_unknown_method_names_the_known_ones() -> None:
    with pytest.raises(HashbenchError, match=r"unknown method 'lhs'.*lsh"):
        create_method("lhs", bits=8)


def test_unknown_parameter_names_the_valid_ones() -> None:
    with pytest.raises(HashbenchError, match=r"no settable parameter colour"):
        create_method("lsh", bits=8, colour="red")
    with pytest.raises(HashbenchError, match=r"no settable parameter bits"):
        check_params("lsh", {"bits": 4})  # bits and seed are per run, not per method


def test_a_name_registered_twice_is_refused() -> None:
    registry = MethodRegistry("hashbench.methods", "hashbench.test-no-plugins")

    class One(HashingMethod):
        def _fit(self, train, validation): ...
        def _encode(self, inputs): ...

    class Two(One): ...

    registry.register("dup")(One)
    with pytest.raises(HashbenchError, match="registered twice"):
        registry.register("dup")(Two)


def test_only_method_classes_register() -> None:
    registry = MethodRegistry("hashbench.methods", "hashbench.test-no-plugins")
    with pytest.raises(HashbenchError, match="not a subclass"):
        registry.register("thing")(object)  # type: ignore[arg-type]
