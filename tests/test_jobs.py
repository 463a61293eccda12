"""The workflow's wiring (ffnn.pipeline.jobs.Jobs) without Snakemake: the config completed as
Snakemake completes it, the region table, each rule's inputs and command line, the
default target; and the shared settings coercion (ffnn.util.settings)."""

from __future__ import annotations

import copy
import shlex
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from ffnn.forecast.classify import ClassifySettings
from ffnn.util.errors import ConfigError
from ffnn.pipeline.jobs import Jobs, region_pattern
from ffnn.io.jsoc import JsocSettings
from ffnn.util.settings import assignments
from ffnn.field.train import TrainConfig

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "workflow" / "schemas"
SHIPPED = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def jobs(tmp_path=None, sheet=None, check=False, **changes) -> Jobs:
    """Jobs of the shipped config with top-level ``changes`` (and a sheet text, if given)."""
    config = copy.deepcopy(SHIPPED)
    config["regions"] = str(REPO / "config" / "regions.tsv")
    if sheet is not None:
        (tmp_path / "regions.tsv").write_text(sheet)
        config["regions"] = str(tmp_path / "regions.tsv")
    config.update(changes)
    return Jobs(config, SCHEMAS, check_settings=check)


def region(name, model=None):
    return SimpleNamespace(region=name, model=model)


def test_config_is_completed_as_snakemake_completes_it():
    from snakemake.utils import validate

    ours = {"lowlou": {"regions": []}, "train": {"width": 8}}
    theirs = copy.deepcopy(ours)
    Jobs(ours, SCHEMAS, check_settings=False)
    validate(theirs, str(SCHEMAS / "config.schema.yaml"))
    assert ours == theirs
    assert ours["jsoc"]["busy_timeout_s"] == 900 and ours["lowlou"]["shape"] == [32, 32, 32]


def test_region_table_of_the_shipped_config():
    j = jobs()
    assert list(j.regions) == ["ar11158_20110215T0200", "lowlou_case1", "lowlou_case2"]
    assert (j.sharp, j.jsoc, j.lowlou) == (["ar11158_20110215T0200"], [], ["lowlou_case1", "lowlou_case2"])
    import re

    for kind, names in (("sharp", j.sharp), ("lowlou", j.lowlou), ("all", list(j.regions))):
        matching = [r for r in j.regions if re.fullmatch(j.patterns[kind], r)]
        assert matching == names
    assert not re.fullmatch(j.patterns["jsoc"], "ar11158_20110215T0200")
    assert region_pattern([]) == "(?!x)x"
    assert j.train_settings("lowlou_case2")["first_layer_scale"] == 5
    assert j.train_settings("lowlou_case1")["first_layer_scale"] == 3


def test_boundary_of_a_local_a_jsoc_and_a_benchmark_region(tmp_path):
    sheet = ("noaa\ttime\tsharp_dir\tbin\n11158\t2011-02-15T02:00\tffnn:hmi.sharp_cea_720s.377.20110215_020000_TAI\t"
             "\n11161\t2011-02-14T20:05\t\t4\n")
    j = jobs(tmp_path, sheet)
    local, remote = "ar11158_20110215T0200", "ar11161_20110214T2005"
    assert j.jsoc == [remote]
    assert j.boundary_input(region(local)) == {"record": f"results/{local}/resolve.json"}
    assert j.boundary_input(region(remote)) == {"record": f"results/{remote}/resolve.json",
                                                "download": f"results/{remote}/sharp/sharp.json"}
    assert j.boundary_input(region("lowlou_case1")) == {"source": "results/lowlou_case1/reference.nc"}
    words = shlex.split(j.boundary_args(region(remote)))
    assert words == [f"results/{remote}/sharp", "--record", f"results/{remote}/resolve.json", "--bin", "4",
                     "--height-mm", "100"]
    assert shlex.split(j.boundary_args(region(local)))[0] == j.regions[local]["sharp_dir"]
    assert shlex.split(j.boundary_args(region("lowlou_case2"))) == ["results/lowlou_case2/reference.nc"]
    files = j.local_record_files(region(local))
    assert len(files) >= 6 and all(f.endswith(".fits") for f in files)
    assert j.local_record_files(region(remote)) == []
    record = shlex.split(j.record_args(region(local)))
    assert record[:4] == ["--noaa", "11158", "--time", "2011-02-15T02:00:00"] and "--sharp-dir" in record


def test_train_command_line_gives_back_the_region_settings():
    j = jobs()
    words = shlex.split(j.train_args(region("lowlou_case2")))
    sets = [words[i + 1] for i in range(0, len(words), 2)]
    assert words[::2] == ["--set"] * len(sets)
    settings = assignments(sets)
    assert settings.pop("progress") is False
    assert settings == j.train_settings("lowlou_case2")
    assert TrainConfig.from_dict(settings).first_layer_scale == 5
    assert j.train_boundary(region("lowlou_case1")) == ["results/lowlou_case1/faces.nc"]
    assert j.train_boundary(region("lowlou_case2")) == ["results/lowlou_case2/boundary.nc",
                                                        "results/lowlou_case2/pf_faces.nc"]


def test_preprocessed_map_trains_sharp_regions_only_when_asked():
    sharp = region("ar11158_20110215T0200")
    assert jobs().train_boundary(sharp)[0] == "results/ar11158_20110215T0200/boundary.nc"
    j = jobs(sharp={**SHIPPED["sharp"], "preprocess": {"mu3": 0.01, "mu4": 0.001}})
    assert j.train_boundary(sharp) == ["results/ar11158_20110215T0200/preprocessed.nc",
                                       "results/ar11158_20110215T0200/pf_faces.nc"]
    assert shlex.split(j.preprocess_args(sharp)) == ["--mu3", "0.01", "--mu4", "0.001"]
    assert j.train_boundary(region("lowlou_case2"))[0] == "results/lowlou_case2/boundary.nc"
    with pytest.raises(ConfigError, match="mu4"):
        jobs(sharp={**SHIPPED["sharp"], "preprocess": {"mu3": 0.01}})


def test_summary_row_reads_what_its_arguments_name():
    j = jobs()
    for name in ("ar11158_20110215T0200", "lowlou_case1"):
        inputs = j.row_inputs(region(name))
        words = shlex.split(j.row_args(region(name)))
        named = {words[i + 1] for i in range(len(words) - 1) if words[i] in ("--derived", "--record", "--reference",
                                                                           "--potential-reference")}
        assert named <= set(inputs.values()), (named, inputs)
        assert {"train", "quality", "profiles", "derived"} <= set(inputs)
    meta = assignments([w for w in shlex.split(j.row_args(region("lowlou_case1"))) if "=" in w], "--meta")
    assert meta["lowlou_boundary"] == "faces" and meta["lowlou_shape"] == [32, 32, 32]
    assert j.metrics_cube(region("lowlou_case1", "ffnn")) == "results/lowlou_case1/cube.nc"
    assert j.metrics_cube(region("lowlou_case1", "potential")) == "results/lowlou_case1/potential.nc"


class Output(list):
    """A rule's output as Snakemake's ``rules.<rule>.output``: a list, named files as attributes."""

    def __init__(self, *files, **named):
        super().__init__([*files, *named.values()])
        self.__dict__.update(named)


def fake_rules():
    return SimpleNamespace(**{name: SimpleNamespace(output=output) for name, output in {
        "cube": Output("results/{region}/cube.nc"),
        "quality": Output(quality="results/{region}/quality.json", profiles="results/{region}/profiles.nc"),
        "summary_row": Output("results/{region}/row.json"),
        "figures": Output("results/{region}/figures/bottom.png", "results/{region}/figures/loss.png"),
        "derived": Output("results/{region}/derived.nc", "results/{region}/figures/twist.png"),
        "export": Output("results/{region}/export"),
        "summary": Output(tsv="results/summary.tsv", nc="results/summary.nc"),
        "lowlou_table": Output("results/lowlou/table.md"),
        "classify": Output(skill="results/classify/skill.tsv"),
        "classify_predict": Output("results/classify/regions/predictions.csv"),
    }.items()})


def test_default_target_follows_the_enabled_stages():
    targets = jobs().final_targets(fake_rules())
    assert "results/lowlou_case2/derived.nc" in targets and "results/lowlou/table.md" in targets
    assert "results/classify/regions/predictions.csv" in targets
    assert not any(t.endswith("/export") for t in targets)
    assert len([t for t in targets if t.startswith("results/ar11158")]) == 7

    j = jobs(export={"enabled": True, "formats": ["fits"]}, classify={"enabled": False},
             lowlou={"regions": []})
    targets = j.final_targets(fake_rules())
    assert "results/ar11158_20110215T0200/export" in targets  # FITS: only where there is a WCS
    assert not any("classify" in t or "lowlou" in t for t in targets)
    assert j.export_formats("ar11158_20110215T0200") == ["fits"]
    assert shlex.split(j.export_args(region("ar11158_20110215T0200"))) == ["--format", "fits"]
    j = jobs(export={"enabled": True}, derived={"enabled": False})
    assert j.export_formats("lowlou_case1") == [] and "--derived" not in j.row_args(region("lowlou_case1"))


BAD = {
    "threads in train": ({"train": {"threads": 4}}, "config train: 'threads' is set by the workflow"),
    "unknown case": ({"lowlou": {"regions": ["lowlou_case9"]}}, "no case 'lowlou_case9' in lowlou.cases"),
    "schema": ({"figures": {"dpi": 10}}, "config: figures.dpi = 10: 10 is less than the minimum of 30"),
    "nan": ({"sharp": {"height_mm": float("nan")}}, "config: sharp.height_mm = nan: not a finite number"),
    "inf": ({"train": {"time_budget_s": float("inf")}}, "config: train.time_budget_s = inf: not a finite number"),
    "training setting": ({"train": {"width": 8, "ff_form": "cubic"}}, "config train: training setting ff_form='cubic'"),
    "unknown training setting": ({"train": {"max_iteratons": 5}}, "config train: unknown training setting(s)"),
    # checked in a run of no region too (issue 26): it would be refused later, or never
    "unknown training setting, no region": ({"lowlou": {"regions": []}, "train": {"max_iteratons": 5}},
                                            "config train: unknown training setting(s) ['max_iteratons']"),
    "bad warm setting, no series": ({"lowlou": {"regions": []}, "series": {"warm": {"ff_form": "cubic"}}},
                                    "config series.warm: training setting ff_form='cubic' is out of range"),
    "case not run": ({"lowlou": {**SHIPPED["lowlou"], "regions": ["lowlou_case2"], "cases": {
        **SHIPPED["lowlou"]["cases"], "lowlou_case1": {**SHIPPED["lowlou"]["cases"]["lowlou_case1"],
                                                       "train": {"widht": 3}}}}},
                     "config lowlou.cases.lowlou_case1.train: unknown training setting(s) ['widht']"),
    "case's training setting": ({"lowlou": {**SHIPPED["lowlou"], "cases": {**SHIPPED["lowlou"]["cases"], "lowlou_case1": {
        **SHIPPED["lowlou"]["cases"]["lowlou_case1"], "train": {"seed": -1}}}}},
        "config lowlou.cases.lowlou_case1 (region lowlou_case1): training setting seed=-1 is out of range"),
    "classify setting": ({"classify": {"window": "soon"}}, "config classify: forecast window 'soon'"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_setting_is_one_line(case):
    changes, message = BAD[case]
    with pytest.raises(ConfigError) as err:
        jobs(check=True, regions=None, **changes)
    assert message in str(err.value) and "\n" not in str(err.value)


# ---------------------------------------------------------------- one coercion for every settings class

def test_one_coercion_for_training_jsoc_and_classify():
    cfg = TrainConfig.from_dict({"width": "32", "progress": "off", "time_budget_s": "none", "lambda_ff": 2})
    assert (cfg.width, cfg.progress, cfg.time_budget_s, cfg.lambda_ff) == (32, False, None, 2.0)
    jsoc = JsocSettings.from_mapping({"retries": 3.0, "tolerance": "30min", "email": None})
    assert (jsoc.retries, jsoc.tolerance_s, jsoc.email) == (3, 1800.0, None)
    import datetime

    cls = ClassifySettings.from_mapping({"features": "USFLUX, TOTPOT, USFLUX", "log_features": ["USFLUX"],
                                         "split_date": datetime.date(2014, 1, 1), "class_weight": "null",
                                         "enabled": True})
    assert cls.features == ("USFLUX", "TOTPOT") and cls.split_date == "2014-01-01" and cls.class_weight is None
    for build, values, message in [
        (TrainConfig.from_dict, {"width": 1.5}, "training setting width=1.5 is not of type int"),
        (TrainConfig.from_dict, {"width": True}, "training setting width=True is not of type int"),
        (JsocSettings.from_mapping, {"retries": "many"}, "jsoc setting retries='many' is not of type int"),
        (ClassifySettings.from_mapping, {"C": "x"}, "classify setting C='x' is not of type float"),
        (ClassifySettings.from_mapping, {"threshold_class": 5}, "classify setting threshold_class=5 is not of type str"),
        (JsocSettings.from_mapping, {"colour": 1}, "unknown jsoc setting(s) ['colour']; known:"),
    ]:
        with pytest.raises(ConfigError) as err:
            build(values)
        assert str(err.value).startswith(message), err.value


def test_assignments_read_values_as_yaml_and_keep_the_rest_as_text():
    assert assignments(["a=3", "b=true", "c=null", "d=[1, 2]", "e=2014-01-01", "f=[", "g=x=y"]) == \
        {"a": 3, "b": True, "c": None, "d": [1, 2], "e": "2014-01-01", "f": "[", "g": "x=y"}
    with pytest.raises(ConfigError, match="--meta expects KEY=VALUE, got 'x'"):
        assignments(["x"], "--meta")


def test_a_config_file_of_several_sections_gives_each_command_its_own(tmp_path):
    from ffnn.util.settings import gather

    config = tmp_path / "settings.yaml"
    config.write_text("jsoc:\n  retries: 2\nsharp:\n  bin: 4\n")
    assert gather(config, "jsoc", whole=False, email="a@b.org") == {"retries": 2, "email": "a@b.org"}
    assert gather(config, "sharp", whole=False, height_mm=None) == {"bin": 4}
    assert gather(config, "train", whole=False) == {}
    config.write_text("bin: 4\n")  # a flat file is one command's settings, with or without its block
    assert gather(config, "sharp", whole=False) == {"bin": 4}
    config.write_text("width: 16\n")  # a train file may hold its settings at the top level
    assert gather(config, "train", ["depth=2"]) == {"width": 16, "depth": 2}
    assert gather("{train: {width: 8}}", "train") == {"width": 8}


def test_a_yaml_error_names_the_file_and_the_line(tmp_path, capsys):
    from ffnn import cli
    from ffnn.util.settings import read_yaml

    bad = tmp_path / "train.yaml"
    bad.write_text("train:\n  width: 16\n\tdepth: 2\n")
    with pytest.raises(ConfigError) as err:
        read_yaml(bad)
    assert str(err.value) == f"{bad} line 3: a tab character; YAML indents with spaces only"
    assert cli.main(["train", str(bad), "--outdir", str(tmp_path / "t"), "--config", str(bad)]) == 2
    assert capsys.readouterr().err == f"ffnn train: error: {bad} line 3: a tab character; YAML indents with spaces only\n"
    (tmp_path / "c.yaml").write_text("classify: {folds: [2\n")
    with pytest.raises(ConfigError, match=r"c.yaml line 2: expected ',' or '\]'"):
        read_yaml(tmp_path / "c.yaml")


def test_config_texts_are_read_as_the_schema_types():
    """What Snakemake makes of inline --config values (all text) comes out as from a file."""
    config = {"regions": "null", "train": {"time_budget_s": "5", "width": "8", "dtype": "float64", "lambda_ff": "1e3"},
              "lowlou": {"shape": ["8", "8", "8"]}, "export": {"enabled": "true"},
              "classify": {"class_weight": "null", "flare_history": "false", "window": "24h"}}
    j = Jobs(config, SCHEMAS, check_settings=False)
    assert j.config["regions"] is None and j.config["train"]["time_budget_s"] == 5
    assert j.config["train"]["width"] == 8 and j.config["train"]["dtype"] == "float64"
    assert j.config["train"]["lambda_ff"] == 1000.0
    assert j.config["lowlou"]["shape"] == [8, 8, 8] and j.config["export"]["enabled"] is True
    assert j.config["classify"]["class_weight"] is None and j.config["classify"]["flare_history"] is False
    with pytest.raises(ConfigError, match=r"train.width = \"wide\": 'wide' is not of type 'integer'"):
        Jobs({"train": {"width": "wide"}}, SCHEMAS, check_settings=False)


def test_a_bad_warm_setting_is_named_as_the_config_setting(tmp_path):
    """series.warm is a config block: its error names it, not the first row of the sheet."""
    (tmp_path / "series.tsv").write_text("noaa\tstart\tend\tcadence\n11158\t2011-02-14T20:00\t2011-02-15T20:00\t1h\n")
    series = {"sheet": str(tmp_path / "series.tsv"), "warm": {"plateau_iterationz": 3}}
    with pytest.raises(ConfigError, match=r"^config series.warm: unknown training setting\(s\) \['plateau_iterationz'\]"):
        jobs(check=True, regions=None, lowlou={"regions": []}, series=series)
    series["warm"] = {"plateau_iterations": 3, "ff_form": "cubic"}
    with pytest.raises(ConfigError, match=r"^config series.warm: training setting ff_form=.cubic."):
        jobs(check=True, regions=None, lowlou={"regions": []}, series=series)
    # a bad train block is named as such, not by the first row or series it reaches
    with pytest.raises(ConfigError, match=r"^config train: unknown training setting\(s\) \['widht'\]"):
        jobs(check=True, regions=None, lowlou={"regions": []}, series={**series, "warm": {}}, train={"widht": 3})
