"""What a user reads: the version, the training settings in ``ffnn train --help``, papers
(never a file users do not have) cited in help and products, no noise on every run, sane
numbers, units said to be nominal where they are (issue 26 item 10)."""

from __future__ import annotations

import argparse
import logging
import warnings
from dataclasses import MISSING, fields
from pathlib import Path

import pytest
import yaml

from ffnn import __version__
from ffnn.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]
SHIPPED = "ffnn:hmi.sharp_cea_720s.377.20110215_020000_TAI"


def test_ffnn_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"ffnn {__version__}"


def test_train_help_lists_every_training_setting_with_default_unit_and_meaning(capsys):
    """One source (ffnn.field.train_settings.SETTINGS) for every TrainConfig field; the
    schema gives types and ranges only, so it cannot disagree."""
    from ffnn.field.train import TrainConfig
    from ffnn.field.train_settings import SETTINGS

    names = [f.name for f in fields(TrainConfig)]
    assert sorted(SETTINGS) == sorted(names), set(SETTINGS) ^ set(names)
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    lines = {line.split()[0]: line for line in text.split("training settings", 1)[1].splitlines()[1:] if line.strip()}
    for f in fields(TrainConfig):
        assert f.default is not MISSING
        default = "null" if f.default is None else str(f.default).lower() if isinstance(f.default, bool) \
            else str(f.default)
        meaning, unit = SETTINGS[f.name]
        assert meaning and meaning != "(not described)", f.name
        line = lines[f.name]
        assert line.split(None, 1)[1].startswith(default), line
        assert line.endswith(f": {meaning}") and (not unit or f"[{unit}]" in line), line
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    properties = schema["$defs"]["train"]["properties"]
    assert set(properties) <= set(names)
    assert not [k for k, v in properties.items() if "description" in v]  # meanings live in SETTINGS


def _help_texts(parser: argparse.ArgumentParser):
    yield parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _help_texts(sub)


def test_help_and_product_texts_cite_papers_not_a_spec_file():
    """``ffnn metrics --help`` and results/lowlou/table.md cited "SPEC section 3", a file
    users do not have."""
    from ffnn.products.summary import lowlou_table

    texts = list(_help_texts(build_parser([])))
    assert len(texts) > 20
    assert not [t.splitlines()[0] for t in texts if "SPEC" in t]
    metrics = next(t for t in texts if t.startswith("usage: ffnn metrics"))
    assert "Schrijver et al. 2006, Sol. Phys. 235, 161" in " ".join(metrics.split())
    table = lowlou_table([{"region": "lowlou_case1", "details": {"meta": {"lowlou_n": 1, "lowlou_boundary": "faces"}}}])
    assert "SPEC" not in table and "Schrijver et al. (2006, Sol. Phys. 235, 161)" in table
    for path in [*REPO.joinpath("config").glob("*"), *REPO.joinpath("workflow").rglob("*.yaml"),
                 *REPO.joinpath("workflow").rglob("*.rst"), *REPO.joinpath("profiles").rglob("*")]:
        if path.is_file():
            assert "SPEC" not in path.read_text(), path


def test_low_and_lou_products_say_their_units_are_nominal():
    from ffnn.analysis.lowlou import lowlou_cube
    from ffnn.field.boundary import from_cube
    from ffnn.products.summary import lowlou_table

    cube = lowlou_cube(shape=(6, 6, 6))
    assert cube["Bz"].attrs["units"] == "gauss" and cube["x"].attrs["units"] == "Mm"
    for ds in (cube, from_cube(cube)):  # reference.nc and the bottom map made from it
        assert "dimensionless" in ds.attrs["comment"] and "nominal" in ds.attrs["comment"]
    table = lowlou_table([{"region": "lowlou_case1", "details": {"meta": {"lowlou_n": 1}}}])
    assert "the Low & Lou field is dimensionless" in table and "erg nominally" in table


def test_the_map_wcs_is_built_without_astropys_datfix_note():
    """FITSFixedWarning "'datfix' made the change 'Set MJD-OBS ...'" came twice per figures
    or derived run."""
    from ffnn.field.boundary import from_sharp
    from ffnn.io.wcs import heliographic_grid

    bottom = from_sharp(SHIPPED, bin_factor=8, height_mm=10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lon, lat = heliographic_grid(bottom.attrs, bottom.sizes["x"], bottom.sizes["y"])
    assert lon.shape == (bottom.sizes["x"], bottom.sizes["y"])
    assert [str(w.message) for w in caught] == []


def test_a_cpu_run_says_its_device_once_as_information(caplog):
    import torch

    from ffnn.field.train import resolve_device

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: auto picks it")
    with caplog.at_level(logging.INFO, logger="ffnn"):
        assert resolve_device("auto").type == "cpu"
    records = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert records == [("INFO", "training on the CPU (device auto: no CUDA GPU available)")]


@pytest.mark.parametrize("fraction, text", [(1.0, "100.0 %"), (0.0632, "6.3 %"), (0.0055, "0.55 %"),
                                            (0.0, "0 %"), (0.000123, "0.012 %")])
def test_percentages_read_as_percentages(fraction, text):
    """``lines reaching no face 1e+02 %`` (ffnn derived's log)."""
    from ffnn.cli.options import percent

    assert percent(fraction) == text
