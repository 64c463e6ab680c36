"""What records keep of the CPU: its name, family/model/stepping and the features that decide
speed and precision, read from /proc/cpuinfo."""

from __future__ import annotations

import pytest

from hashbench import machine
from hashbench.deep import device

#: One processor's block as Linux lists it (trimmed).
PROCESSOR = """processor\t: {number}
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
stepping\t: 1
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 sha_ni
"""
#: Two processors: the second repeats the first.
EPYC = PROCESSOR.format(number=0) + "\n" + PROCESSOR.format(number=1)


def test_the_first_processors_fields_are_read() -> None:
    fields = machine.parse_cpuinfo(EPYC)
    assert fields["processor"] == "0"  # the first block
    assert fields["model name"] == "AMD EPYC" and fields["cpu family"] == "25"
    assert fields["flags"].split()[-1] == "sha_ni"


@pytest.mark.parametrize(
    ("flags", "features", "bf16"),
    [
        ("fpu sse2 avx2 avx512f avx512_bf16 sha_ni", ["avx2", "avx512f", "avx512_bf16"], True),
        (
            "avx2 avx512f amx_tile amx_bf16 avx512_bf16",
            ["avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"],
            True,
        ),  # fmt: skip
        ("fpu sse2 avx2", ["avx2"], False),  # an AVX2-only EPYC: fp32, emulated bf16 is slow
    ],
)
def test_a_cpus_identity_names_its_family_and_the_features_that_set_its_speed(
    flags: str, features: list[str], bf16: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = machine.parse_cpuinfo(EPYC.replace("fpu sse2 avx2 avx512f avx512_bf16 sha_ni", flags))
    monkeypatch.setattr(machine, "cpuinfo", lambda: fields)
    assert machine.cpu_identity() == {
        "cpu_id": "cpu family 25 model 17 stepping 1",
        "cpu_features": features,
    }
    assert device.cpu_has_bf16() is bf16


def test_a_machine_without_cpuinfo_still_names_a_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "cpuinfo", lambda: {})
    assert machine.cpu_identity() == {"cpu_id": None, "cpu_features": None}  # unknown, not none
    assert machine.cpu_name()  # platform's name for it
    assert device.cpu_has_bf16() is False
