"""The one mechanism that checks settings and file fields: what each constraint admits and says."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from hashbench import (
    HashbenchError,
    HashingMethod,
    Subset,
    create_method,
    get_method,
    list_methods,
)
from hashbench.constraints import (
    Boolean,
    Constraint,
    Fields,
    File,
    Integer,
    ListOf,
    MappingOf,
    Name,
    Nullable,
    OneOf,
    Real,
    Text,
    check,
    check_settings,
)
from hashbench.deep.recipes import RECIPE_PARAMETERS, SCRATCH, Recipe
from hashbench.methods.itq import ITQ
from hashbench.registry import MethodRegistry


@pytest.mark.parametrize(
    ("constraint", "good", "bad"),
    [
        (Integer(minimum=0), [0, 7, np.int64(3)], [-1, 2.5, 2.0, True, "3", None, math.nan]),
        (Integer(1, 4), [1, 4], [0, 5]),
        (Real(above=0), [1e-9, 3, 2.5], [0, -1, math.nan, math.inf, "1", True, None]),
        (Real(minimum=0, below=1), [0, 0.999], [1, -0.1]),
        (Real(finite=False), [math.nan, math.inf, 1.5], ["x", False]),
        (Boolean(), [True, False], [0, 1, "true", None]),
        (Text(), ["a"], ["", 3, None]),
        (Name(), ["cifar10", "cifar10-1", "a.b_c"], ["..", ".", "a/b", "", "-x", ".hidden", 3]),
        (OneOf(("sgd", "adam")), ["sgd"], ["SGD", "lbfgs", 0, None]),
        (OneOf((1,)), [1], [True, 1.0]),
        (Nullable(Integer(minimum=1)), [None, 3], [0, "x"]),
        (ListOf(Integer(minimum=1)), [[1], (2, 3)], [[], [0], "12", [1, "2"], None]),
        (MappingOf(Real()), [{}, {"a": 1.0}], [{"a": "x"}, {1: 2.0}, [], None]),
        (Fields({"a": Integer()}, {"b": Text()}), [{"a": 1}, {"a": 1, "b": "x", "c": []}],
         [{}, {"a": "1"}, {"a": 1, "b": ""}, [1]]),
    ],
)  # fmt: skip
def test_each_constraint_admits_what_it_describes_and_nothing_else(
    constraint: Constraint, good: list, bad: list
) -> None:
    for value in good:
        assert constraint.problem(value, "x") is None, value
    for value in bad:
        found = constraint.problem(value, "x")
        assert found is not None and found.startswith("x"), value
        assert "\n" not in found


def test_a_file_must_exist(tmp_path: Path) -> None:
    (tmp_path / "weights.pth").write_bytes(b"")
    assert File().problem(str(tmp_path / "weights.pth"), "w") is None
    assert File().problem(tmp_path / "weights.pth", "w") is None
    for missing in (str(tmp_path / "nothing.pth"), str(tmp_path), "", 3):
        assert File().problem(missing, "w") is not None


@pytest.mark.parametrize(
    ("constraint", "description"),
    [
        (Integer(minimum=1), "an integer >= 1"),
        (Integer(1, 8), "an integer in [1, 8]"),
        (Real(above=0), "a number > 0"),
        (Real(minimum=0), "a number >= 0"),
        (Real(minimum=0, below=1), "a number in [0, 1)"),
        (Real(above=0, maximum=4), "a number in (0, 4]"),
        (Nullable(Integer(minimum=1)), "null or an integer >= 1"),
        (ListOf(Integer(minimum=1)), "a non-empty list, each an integer >= 1"),
        (OneOf(("a", "b")), "one of a, b"),
    ],
)
def test_descriptions_read_as_the_end_of_a_sentence(constraint: Constraint, description: str):
    assert constraint.describe() == description


def test_a_problem_names_the_place_inside_nested_values() -> None:
    shape = Fields({"protocol": Fields({"topk": Nullable(Integer(minimum=1))})})
    assert shape.problem({"protocol": {"topk": "x"}}, "") == (
        "protocol.topk must be null or an integer >= 1, got 'x'"
    )
    assert shape.problem({"protocol": {}}, "") == (
        "protocol.topk is missing (it must be null or an integer >= 1)"
    )
    assert ListOf(ListOf(Integer())).problem([[1], [2, "a"]], "d") == (
        "d[1][1] must be an integer, got 'a'"
    )
    long = "x" * 500
    assert len(Integer().problem(long, "n")) < 100  # a value is shortened, the line stays one


def test_check_says_what_and_what_to_do() -> None:
    assert check(3, Integer(minimum=1), "topk") == 3
    with pytest.raises(HashbenchError, match=r"^topk must be an integer >= 1, got 0; use 1$"):
        check(0, Integer(minimum=1), "topk", "use 1")
    with pytest.raises(HashbenchError, match=r"^record r.json: bits must be an integer, got '8'$"):
        check({"bits": "8"}, Fields({"bits": Integer()}), "record r.json")


def test_check_settings_refuses_unknown_names_then_bad_values() -> None:
    declared = {"iterations": Integer(minimum=0)}
    check_settings("itq", declared, {"iterations": 3})
    with pytest.raises(HashbenchError, match="itq has no settable parameter colour; its "
                       "parameters: iterations"):  # fmt: skip
        check_settings("itq", declared, {"colour": 1})
    with pytest.raises(HashbenchError, match="^itq: iterations must be an integer >= 0, got nan$"):
        check_settings("itq", declared, {"iterations": math.nan})


def test_constraints_are_plain_data() -> None:
    """What a listing could read without the method's code: frozen dataclasses of plain values."""
    plain = (int, float, str, bool, type(None))
    for name in list_methods():
        for constraint in get_method(name).declared_parameters().values():
            fields = dataclasses.asdict(constraint)  # raises for anything but a dataclass

            def leaves(value: object) -> list:
                if isinstance(value, dict):
                    return [leaf for item in value.values() for leaf in leaves(item)]
                if isinstance(value, (list, tuple)):
                    return [leaf for item in value for leaf in leaves(item)]
                return [value]

            assert all(isinstance(leaf, plain) for leaf in leaves(fields)), (name, constraint)


def test_every_default_meets_its_own_constraint() -> None:
    for name in list_methods():
        method = create_method(name, bits=16)
        check_settings(name, type(method).declared_parameters(), method.get_params())


def test_every_recipe_field_declares_its_constraint_on_its_own_line() -> None:
    assert list(RECIPE_PARAMETERS) == [f.name for f in dataclasses.fields(Recipe)]
    check_settings("scratch", RECIPE_PARAMETERS, dataclasses.asdict(SCRATCH))


def test_the_registry_refuses_a_method_that_leaves_a_parameter_undeclared() -> None:
    registry = MethodRegistry("hashbench.methods", "hashbench.test-no-plugins")

    class Loose(HashingMethod):
        def __init__(self, bits: int, seed: int = 0, *, shift: float = 0.0) -> None:
            super().__init__(bits, seed)
            self.shift = shift

        def _fit(self, train, validation): ...
        def _encode(self, inputs): ...

    with pytest.raises(HashbenchError, match="'loose' from .* declares no constraint for shift"):
        registry.register("loose")(Loose)

    class Stray(Loose):
        parameters = {"shift": Real(), "scale": Real()}

    with pytest.raises(HashbenchError, match="declares scale, which its __init__ does not take"):
        registry.register("stray")(Stray)

    class Wrong(Loose):
        parameters = {"shift": float}

    with pytest.raises(HashbenchError, match="declares shift with no hashbench.constraints"):
        registry.register("wrong")(Wrong)


@pytest.mark.parametrize(
    ("name", "setting", "message"),
    [
        ("itq", {"iterations": math.nan}, "itq: iterations must be an integer >= 0, got nan"),
        ("itq", {"iterations": -1}, "iterations must be an integer >= 0, got -1"),
        ("itq", {"iterations": 2.5}, "iterations must be an integer >= 0, got 2.5"),
        ("itq", {"iterations": [1, 2]}, "iterations must be an integer >= 0, got \\[1, 2\\]"),
        ("sklsh", {"gamma": 0}, "sklsh: gamma must be a number > 0, got 0"),
        ("fssh", {"sigma": math.inf}, "fssh: sigma must be a number > 0, got inf"),
        ("fssh", {"learned_database_codes": 1}, "learned_database_codes must be true or false"),
        ("dmrh", {"regions": 0}, "dmrh: regions must be an integer in \\[1, 8\\], got 0"),
        ("adsh", {"samples": 0}, "adsh: samples must be an integer >= 1, got 0"),
        ("ddsh", {"columns": 1}, "ddsh: columns must be an integer >= 2, got 1"),
        ("hashnet", {"stage_epochs": 0}, "stage_epochs must be null or an integer >= 1, got 0"),
        ("hybridhash", {"depths": [2, 0]}, "hybridhash: depths\\[1\\] must be an integer >= 1"),
        ("dpsh", {"val_topk": "abc"}, "dpsh: val_topk must be null or an integer >= 1"),
        ("dpsh", {"weights": "/no/such/file.mat"}, "weights must be null or the path of an"),
    ],
)
def test_every_method_checks_its_settings_before_it_is_built(
    name: str, setting: dict, message: str
) -> None:
    with pytest.raises(HashbenchError, match=message):
        create_method(name, bits=16, **setting)


@pytest.mark.parametrize("bits", [0, -8, 100_000, 16.0, "16"])
def test_bits_outside_the_declared_range_are_refused(bits: object) -> None:
    with pytest.raises(HashbenchError, match="bits must be an integer in \\[1, 8192\\]"):
        create_method("lsh", bits=bits)  # type: ignore[arg-type]


def test_fit_checks_a_method_built_directly_too() -> None:
    method = ITQ(bits=4, iterations=-1)
    data = np.zeros((8, 6), np.float32)
    with pytest.raises(HashbenchError, match="iterations must be an integer >= 0, got -1"):
        method.fit(Subset(np.arange(8), data, np.zeros(8, np.int64)))
