"""The regions figure: a line per bit length and per setting besides N, seeds averaged; and
saved figures keep every artist."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hashbench import create_method
from hashbench.errors import HashbenchError
from hashbench.reporting.figures import convergence_figure, regions_figure, save


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


def test_the_legend_sits_below_the_panels_once_never_over_a_curve() -> None:
    records = [dmrh_record(n, 0, 0.5 + n / 10) for n in (1, 2, 3)]
    records += [{**r, "protocol": {"name": "cifar10-dmrh", "topk": 5000},
                 "metrics": {"map@5000": r["metrics"]["map@all"]}} for r in records]  # fmt: skip
    figure = regions_figure(records)
    assert len(figure.axes) == 2 and all(axis.get_legend() is None for axis in figure.axes)
    (legend,) = figure.legends
    labels = [text.get_text() for text in legend.get_texts()]
    assert labels == ["48 bits", "48 bits, authors' code (ImageNet CNN-F)"]  # each once


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


def test_a_saved_figure_keeps_a_legend_wider_than_its_panels(tmp_path) -> None:
    history = [{"epoch": e, "loss": 1 / e, "phase": "hashing", "val_map": e / 10} for e in (1, 2)]
    records = [
        {**dmrh_record(n, 0, 0.5, lr=lr, width=0.25), "history": history}
        for n in (1, 2, 3, 4)
        for lr in (0.0123456, 0.0654321)
    ]
    figure = convergence_figure(records)
    figure.set_dpi(300)  # the dpi save() writes at, so text is measured as it will be drawn
    figure.draw_without_rendering()
    (legend,) = figure.legends
    legend_px = legend.get_window_extent().width
    assert legend_px > figure.get_figwidth() * 300  # the labels are wider than the column
    (png, _) = save(figure, tmp_path / "convergence")
    assert Image.open(png).width >= legend_px


@pytest.mark.parametrize(("losses", "scale"), [((0.81, 0.79), "linear"), ((50.0, 0.7), "log")])
def test_the_loss_axis_is_logarithmic_only_across_more_than_a_decade(
    losses: tuple[float, float], scale: str
) -> None:
    history = [
        {"epoch": epoch, "loss": loss, "phase": "hashing", "val_map": 0.5}
        for epoch, loss in enumerate(losses, 1)
    ]
    loss_axis, _ = convergence_figure([{**dmrh_record(2, 0, 0.5), "history": history}]).axes
    assert loss_axis.get_yscale() == scale
