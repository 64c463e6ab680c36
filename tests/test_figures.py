"""The regions figure: a line per bit length and per setting besides N, seeds averaged."""

from __future__ import annotations

import numpy as np
import pytest

from hashbench import create_method
from hashbench.errors import HashbenchError
from hashbench.reporting.figures import regions_figure


def dmrh_record(regions: int, seed: int, value: float, bits: int = 48, **changed: float) -> dict:
    params = {**create_method("dmrh", bits=bits).get_params(), "regions": regions, **changed}
    return {
        "method": "dmrh",
        "bits": bits,
        "seed": seed,
        "config": {"params": params},
        "protocol": {"name": "cifar10", "topk": None},
        "metrics": {"map@all": value},
    }


def drawn_lines(records: list[dict]) -> dict[str, tuple[list[float], list[float]]]:
    (axis,) = regions_figure(records).axes
    handles, labels = axis.get_legend_handles_labels()
    return {
        label: tuple(list(values) for values in handle.lines[0].get_data())
        for handle, label in zip(handles, labels, strict=True)
    }


def test_runs_at_another_learning_rate_are_their_own_line_never_averaged_in() -> None:
    lr = create_method("dmrh", bits=48).get_params()["lr"]
    records = [
        dmrh_record(1, 0, 0.50),
        dmrh_record(2, 0, 0.60),
        dmrh_record(2, 1, 0.70),  # a second seed: averaged with seed 0
        dmrh_record(2, 0, 0.20, lr=lr / 2),
        dmrh_record(4, 0, 0.30, lr=lr / 2),
    ]
    lines = drawn_lines(records)
    assert set(lines) == {"48 bits", f"48 bits (lr={lr / 2})"}
    assert lines["48 bits"][0] == [1, 2]
    np.testing.assert_allclose(lines["48 bits"][1], [0.50, 0.65])
    assert lines[f"48 bits (lr={lr / 2})"] == ([2, 4], [0.20, 0.30])


def test_a_setting_every_run_shares_stays_out_of_the_legend() -> None:
    records = [dmrh_record(n, 0, 0.5 + n / 10, width=0.5) for n in (1, 2, 3)]
    assert list(drawn_lines(records)) == ["48 bits"]


def test_no_regions_records_is_an_error_naming_the_n_sweep() -> None:
    itq = {"method": "itq", "bits": 48, "config": {"params": {}}}
    with pytest.raises(HashbenchError, match="N sweep"):
        regions_figure([itq])


def test_bits_keeps_only_that_code_length() -> None:
    records = [dmrh_record(n, 0, 0.5, width=0.5) for n in (1, 2)]
    records.append(dmrh_record(2, 0, 0.4, bits=16))
    assert list(drawn_lines(records)) == ["16 bits", "48 bits (width=0.5)"]
    (axis,) = regions_figure(records, bits=16).axes
    assert axis.get_legend_handles_labels()[1] == ["16 bits"]
