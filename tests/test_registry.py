"""Registry lookups, wildcards and the errors users see for wrong names and settings."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import pytest

from hashbench import HashbenchError, HashingMethod, create_method, list_methods
from hashbench.constraints import Real
from hashbench.registry import REGISTRY, MethodRegistry, check_params


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


# -- declarations: what a method declares, read without running its module ------------------


def fresh_registry(package: str = "hashbench.methods") -> MethodRegistry:
    return MethodRegistry(package, "hashbench.test-no-plugins")


@pytest.mark.parametrize("name", list_methods())
def test_a_builtin_methods_declared_class_declares_what_the_class_does(name: str) -> None:
    declared, real = fresh_registry().declaration(name), REGISTRY.get(name)
    assert declared is not real
    assert inspect.getdoc(declared) == inspect.getdoc(real)
    for setting in ("input_kind", "supervised", "bits_within_dimension", "name"):
        assert getattr(declared, setting) == getattr(real, setting), setting
    assert declared.declared_parameters() == real.declared_parameters()
    for bits in (16, 64):
        built = real(bits=bits).get_params()
        assert declared.default_params(bits) == built
        assert list(declared.default_params(bits)) == list(built)  # the order `list` shows
        assert real.default_params(bits) == built
    with pytest.raises(TypeError):  # a declaration lists; only the registry's class is built
        declared(bits=16)


TOY_METHODS = '''
import no_such_training_stack  # never imported to list the method

from hashbench.constraints import Integer, Real
from hashbench.deep.method import DeepHashingMethod
from hashbench.registry import register_method

RATE = 0.25


def scaled(value):
    return value * 2


@register_method("toy")
class Toy(DeepHashingMethod):
    """A toy deep method.

    Its loss is nothing.
    """

    scratch_recipe = {"lr": RATE * 4, "epochs": len("abc")}
    parameters = {"gamma": Real(above=0), "steps": Integer(minimum=1)}
    loss = no_such_training_stack.loss  # not a setting a base declares: not read

    def __init__(self, bits, seed=0, *, gamma=RATE, steps=sum(i for i in (1, 2)), **training):
        super().__init__(bits, seed, **training)
        self.gamma = gamma
        self.steps = steps

    def batch_loss(self, context, codes, indices):
        return no_such_training_stack.loss(codes)


@register_method("broken")
class Broken(Toy):
    """Declares a setting through a function, which only running the module could call."""

    scratch_recipe = {"lr": scaled(RATE)}
'''


@pytest.fixture
def toy_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MethodRegistry:
    package = tmp_path / "toy_methods"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "toys.py").write_text(TOY_METHODS)
    monkeypatch.syspath_prepend(str(tmp_path))
    return fresh_registry("toy_methods")


def test_declarations_are_read_without_running_the_module(toy_registry) -> None:
    assert toy_registry.names() == ["broken", "toy"]
    toy = toy_registry.declaration("toy")
    assert "no_such_training_stack" not in sys.modules
    assert toy.__doc__.strip().splitlines()[0] == "A toy deep method."
    assert (toy.input_kind, toy.supervised, toy.name) == ("images", True, "toy")
    assert toy.declared_parameters()["gamma"] == Real(above=0)
    assert "lr" in toy.declared_parameters()  # its base's recipe settings, inherited
    defaults = toy.default_params(bits=24)
    assert {key: defaults[key] for key in ("bits", "seed", "gamma", "steps")} == {
        "bits": 24,
        "seed": 0,
        "gamma": 0.25,
        "steps": 3,
    }
    assert (defaults["preset"], defaults["lr"], defaults["epochs"]) == ("scratch", 1.0, 3)
    assert toy_registry.origin("toy") == "toy_methods.toys"
    toy_registry.check_params("toy", {"gamma": 2.0})
    with pytest.raises(HashbenchError, match="toy: gamma must be a number > 0, got -1"):
        toy_registry.check_params("toy", {"gamma": -1})
    # Building it runs its module, and that fails as the module would.
    with pytest.raises(HashbenchError, match="could not load method 'toy'.*no_such_training"):
        toy_registry.get("toy")


def test_a_declaration_only_running_the_module_could_read_is_one_line(toy_registry) -> None:
    with pytest.raises(HashbenchError) as raised:
        toy_registry.declaration("broken")
    message = str(raised.value)
    assert "\n" not in message
    assert "could not read method 'broken' from toy_methods.toys" in message
    assert "scaled is bound by a functiondef statement" in message
