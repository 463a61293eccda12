"""The Snakemake workflow, run for real in temporary directories.

* ``snakefmt --check`` and ``snakemake --lint`` are clean; a dry run of the shipped config
  (offline default, and with the shipped region sheet) plans the expected jobs;
* config errors (unknown key, bad type, malformed time, bad training setting) stop the
  workflow with one line naming the problem;
* a batch of SHARP regions served by the JSOC look-alike (tests/jsoc_server.py), one of
  them unknown, under --keep-going: the good regions run through every rule to cube.nc,
  profiles.nc, figures and summary rows, read back and checked; the bad region's log
  names the cause; a rerun recomputes nothing complete; without the bad region the
  summary and the flare forecast of the regions follow; the report builds;
* a training job killed mid-way resumes from its checkpoint when rerun.

Every snakemake runs as ``python -m snakemake --snakefile <repo>/workflow/Snakefile
--workflow-profile none`` in its own directory, with tiny grids and training budgets.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"

pytestmark = pytest.mark.slow

TINY_TRAIN = {"max_iterations": 300, "n_interior": 500, "hidden_layers": 3, "width": 32,
              "iterations_per_step": 10, "checkpoint_every": 50, "time_budget_s": None}


def _env():
    env = {k: v for k, v in os.environ.items() if k not in ("JSOC_URL", "JSOC_EMAIL")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["MPLBACKEND"] = "Agg"
    return env


def snakemake(workdir, *args, timeout=600):
    """Run snakemake in ``workdir``; returns (returncode, stdout + stderr)."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE),
           "--workflow-profile", "none", *map(str, args)]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=_env())
    return proc.returncode, proc.stdout + proc.stderr


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a (dry) run: rule -> number of jobs."""
    counts = {}
    block = output.split("Job stats:", 1)[1] if "Job stats:" in output else ""
    for line in block.splitlines()[3:]:
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not m:
            break
        counts[m.group(1)] = int(m.group(2))
    counts.pop("total", None)
    return counts


# ---------------------------------------------------------------- static checks

def test_snakefmt_is_clean():
    """The Snakemake catalogue's format check of workflow/Snakefile and every rule file."""
    proc = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "workflow"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# The rules declare no per-rule software environment (test_rules_promise_no_conda_environment):
# every job runs ffnn from the workflow's own environment, since an environment that would
# install ffnn itself cannot be built or tested offline. The catalogue's lint asking for one
# is the only lint accepted.
NO_ENVIRONMENT = "Specify a conda environment or container for each rule."


def test_lint_is_clean(tmp_path):
    shutil.copytree(REPO / "config", tmp_path / "config")
    rc, out = snakemake(tmp_path, "--lint")
    assert rc in (0, 1), out
    lints = re.findall(r"^\s+\* (.+?):?$", out, flags=re.M)
    rules = re.findall(r"^Lints for rule (\w+)", out, flags=re.M)
    assert set(lints) <= {NO_ENVIRONMENT}, out
    assert "Lints for snakefile" not in out, out
    assert len(lints) == len(rules), out  # one lint per rule at most: that one


def test_dry_run_of_the_shipped_config(tmp_path):
    shutil.copytree(REPO / "config", tmp_path / "config")
    rc, out = snakemake(tmp_path, "-n", "--cores", "2")
    assert rc == 0, out
    counts = job_counts(out)
    # NOAA 11158 from the record shipped in the package (no download) and the benchmark
    assert counts.get("train") == 3 and counts.get("lowlou") == 2, counts
    assert counts.get("resolve") == 1 and counts.get("boundary") == 3, counts
    assert counts.get("faces") == 1 and counts.get("metrics") == 4, counts
    assert counts.get("quality") == 3, counts
    assert counts.get("lowlou_table") == 1 and counts.get("summary") == 1, counts
    assert "fetch_sharp" not in counts, counts
    assert "results/ar11158_20110215T0200/cube.nc" in out
    # the flare forecast fitted on the shipped data, then scoring the run's SHARP region
    assert counts.get("classify") == 1 and counts.get("classify_predict") == 1, counts
    assert "preprocess" not in counts, counts
    # preprocessing asked for: the SHARP region's map only, and its training holds that map
    rc, out = snakemake(tmp_path, "-n", "-p", "--cores", "2", "--config", "sharp={preprocess: {mu3: 0.001, mu4: 0.01}}")
    assert rc == 0, out
    assert job_counts(out).get("preprocess") == 1, out
    assert "ffnn train results/ar11158_20110215T0200/preprocessed.nc" in out.replace("'", "")

    # the JSOC sheet: every row resolved, downloaded and trained (dry: no network)
    rc, out = snakemake(tmp_path, "-n", "--cores", "2", "--config",
                        "regions=config/regions_jsoc.tsv")
    assert rc == 0, out
    counts = job_counts(out)
    sheet = [l for l in (REPO / "config/regions_jsoc.tsv").read_text().splitlines()
             if l.strip() and not l.startswith("#")][1:]
    assert counts.get("resolve") == len(sheet) and counts.get("fetch_sharp") == len(sheet), counts
    assert counts.get("train") == len(sheet) + 2, counts
    assert counts.get("classify_predict") == 1, counts
    assert "ar11158_20110214T2000" in out


def test_inline_config_values_are_read_as_the_files_are(tmp_path):
    """Snakemake hands nested --config values (and top-level null) over as text: the
    workflow reads them with the schema's types, so they plan, and are range-checked, as
    the same values in a config file."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    for inline in ("train={time_budget_s: 5}", "export={enabled: true}", "classify={enabled: false}",
                   "jsoc={retries: 2}", "regions=null"):
        rc, out = snakemake(tmp_path, "-n", "--cores", "2", "--config", inline)
        assert rc == 0, f"{inline}:\n{out}"
        counts = job_counts(out)
        if inline.startswith("export"):
            assert counts.get("export") == 3, counts
        if inline.startswith("classify"):
            assert "classify" not in counts, counts
        if inline.startswith("regions"):
            assert "resolve" not in counts and counts.get("lowlou") == 2, counts
    # the training's command line carries each setting as its type, not as quoted text
    rc, out = snakemake(tmp_path, "-n", "-p", "--cores", "2", "--config", "train={width: 32, hold_bottom: 1}")
    assert rc == 0, out
    assert "--set width=32 " in out and "--set hold_bottom=1.0 " in out, out
    rc, out = snakemake(tmp_path, "-n", "--cores", "2", "--config", "train={time_budget_s: -5}")
    assert rc != 0
    assert "config: train.time_budget_s = -5: -5 is less than or equal to the minimum of 0" in out, out


BAD_CONFIGS = {
    "unknown key": ({"trian": {"width": 8}}, None,
                    "config: unknown key(s) 'trian'"),
    "unknown nested key": ({"lowlou": {"shap": [8, 8, 8]}}, None,
                           "config: unknown key(s) 'shap' in 'lowlou'"),
    "bad type": ({"train": {"width": "wide"}}, None,
                 "config: train.width = \"wide\": 'wide' is not of type 'integer'"),
    "bad training setting": ({"train": {"widht": 8}, "lowlou": {"regions": ["lowlou_case1"]}}, None,
                             "unknown training setting(s) ['widht']"),
    "bad classify setting": ({"classify": {"window": "soon"}}, None,
                             "config classify: forecast window 'soon' is not a time span like '24h'"),
    "malformed time": ({}, "noaa\ttime\n11158\t2011-02-30T20:00\n",
                       "row 1 (noaa 11158): malformed time '2011-02-30T20:00'"),
    "time format": ({}, "noaa\ttime\n11158\t14/02/2011 20:00\n",
                    "row 1 (noaa 11158): malformed time '14/02/2011 20:00'"),
    "unknown sheet column": ({}, "noaa\ttime\tbinning\n11158\t2011-02-14T20:00\t2\n",
                             "unknown key(s) 'binning'"),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_config_error_gives_one_clear_message(tmp_path, case):
    config, sheet, message = BAD_CONFIGS[case]
    if sheet is not None:
        (tmp_path / "regions.tsv").write_text(sheet)
        config = {**config, "regions": "regions.tsv"}
    write_config(tmp_path / "bad.yaml", config)
    rc, out = snakemake(tmp_path, "-n", "--configfile", "bad.yaml")
    assert rc != 0, out
    lines = [l for l in out.splitlines() if message in l]
    assert len(lines) == 1, f"expected one line with {message!r}:\n{out}"
    assert "Traceback" not in out and "jsonschema" not in out, out


def test_a_tab_in_the_config_file_is_one_line_naming_file_and_line(tmp_path):
    """Snakemake's own message for a YAML error names neither file nor line; the workflow
    reads config/config.yaml with ffnn first."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    text = (tmp_path / "config/config.yaml").read_text().splitlines()
    at = next(i for i, line in enumerate(text) if line.startswith("  width:"))
    text[at] = "\t" + text[at].lstrip()
    (tmp_path / "config/config.yaml").write_text("\n".join(text) + "\n")
    rc, out = snakemake(tmp_path, "-n")
    assert rc != 0, out
    message = f"config/config.yaml line {at + 1}: a tab character; YAML indents with spaces only"
    assert len([line for line in out.splitlines() if message in line]) == 1, out
    assert "Traceback" not in out and "not valid JSON or YAML" not in out, out


def test_a_key_given_twice_is_one_line_naming_file_key_and_lines(tmp_path):
    """YAML keeps the last of a key given twice, silently: a second train: block would
    replace the first whole. The workflow refuses it, in config/config.yaml and in a
    --configfile alike."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    lines = (tmp_path / "config/config.yaml").read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("train:")) + 1
    (tmp_path / "config/config.yaml").write_text("\n".join(lines + ["train:", "  max_iterations: 5"]) + "\n")
    rc, out = snakemake(tmp_path, "-n")
    assert rc != 0, out
    message = (f"config/config.yaml: key 'train' appears twice, on lines {first} and {len(lines) + 1}; "
               "YAML would keep only the second: merge the two")
    assert len([line for line in out.splitlines() if message in line]) == 1, out
    assert "Traceback" not in out, out

    shutil.copy(REPO / "config/config.yaml", tmp_path / "config/config.yaml")
    (tmp_path / "my.yaml").write_text("lowlou:\n  regions: []\nregions: null\nlowlou:\n  shape: [8, 8, 8]\n")
    rc, out = snakemake(tmp_path, "-n", "--configfile", "my.yaml")
    assert rc != 0, out
    message = "my.yaml: key 'lowlou' appears twice, on lines 1 and 4; YAML would keep only the second"
    assert len([line for line in out.splitlines() if message in line]) == 1, out


def test_the_shipped_settings_apply_wherever_the_workflow_runs(tmp_path):
    """``snakemake -s <repo>/workflow/Snakefile --directory D``: the shipped config/config.yaml
    is the base of the run's config wherever it runs (Snakemake alone reads only D's
    config/config.yaml: the shipped training budgets would be dropped for TrainConfig's
    defaults, and without --configfile the run would fail on the missing file)."""
    shipped = yaml.safe_load((REPO / "config/config.yaml").read_text())
    (tmp_path / "run").mkdir()
    write_config(tmp_path / "run/my.yaml", {"regions": None, "lowlou": {"regions": ["lowlou_case1"]}})
    rc, out = snakemake(tmp_path, "--directory", "run", "--configfile", "run/my.yaml", "-n", "-p", "--cores", "2")
    assert rc == 0, out
    assert f"ffnn: the shipped settings of {REPO / 'config/config.yaml'} apply" in out, out
    train = next(line for line in out.splitlines() if "ffnn train " in line)
    case = shipped["lowlou"]["cases"]["lowlou_case1"]["train"]
    for key in ("max_iterations", "width", "n_interior"):
        assert f"--set {key}={case[key]} " in train, train
    assert f"--set warmup_iterations={shipped['train']['warmup_iterations']} " in train, train
    assert job_counts(out).get("train") == 1, out

    # no config at all: the shipped run (its region sheet is the repository's)
    (tmp_path / "empty").mkdir()
    rc, out = snakemake(tmp_path, "--directory", "empty", "-n", "--cores", "2")
    assert rc == 0, out
    counts = job_counts(out)
    assert counts.get("train") == 3 and counts.get("resolve") == 1 and counts.get("lowlou") == 2, counts


def test_rules_promise_no_conda_environment(tmp_path):
    """No rule declares a conda environment that would not install ffnn: --sdm conda has
    nothing to build (and needs no conda)."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    rc, out = snakemake(tmp_path, "-n", "--cores", "2", "--sdm", "conda")
    assert rc == 0, out
    assert job_counts(out).get("train") == 3, out


# ---------------------------------------------------------------- SHARP regions

def sharp_config(url, regions="regions.tsv"):
    return {
        "regions": regions,
        "lowlou": {"regions": []},
        "jsoc": {"url": url, "email": "tester@example.org", "retries": 1, "backoff_s": 0, "poll_s": 0},
        "train": TINY_TRAIN,
        "resources": {"train": {"threads": 1}},
        "figures": {"lines": 6, "dpi": 40},
        "classify": {"folds": 2, "repeats": 1},  # the shipped data, verified briefly
    }


def _mtimes(paths):
    return {p: p.stat().st_mtime_ns for p in paths}


def check_region(base: Path):
    """Read a finished SHARP region back and check units, shapes, values."""
    import xarray as xr

    cube = xr.open_dataset(base / "cube.nc")
    bottom = xr.open_dataset(base / "boundary.nc")
    profiles = xr.open_dataset(base / "profiles.nc")
    nx, ny = bottom.sizes["x"], bottom.sizes["y"]
    assert dict(cube.sizes) == {"x": nx, "y": ny, "z": cube.sizes["z"]} and cube.sizes["z"] >= 3
    for c in ("x", "y", "z"):
        assert cube[c].attrs["units"] == "Mm"
    for name in ("Bx", "By", "Bz"):
        assert cube[name].attrs["units"] == "gauss"
    for name in ("Jx", "Jy", "Jz", "divB"):
        assert cube[name].attrs["units"] == "gauss Mm-1"
    for name in ("Bx", "By", "Bz", "Jx", "Jy", "Jz", "divB"):
        var = cube[name]
        assert var.dims == ("x", "y", "z")
        assert var.dtype == np.float32
        assert var.encoding.get("zlib") and var.encoding.get("chunksizes")
        assert np.isfinite(var.values).all(), name
    assert np.allclose(cube["x"], bottom["x"]) and np.allclose(cube["y"], bottom["y"])
    assert cube["z"].values[0] == 0.0 and cube["z"].values[-1] == pytest.approx(bottom.attrs["height_mm"])
    # the bottom layer is close to the boundary data (where observed)
    obs = np.stack([bottom[c].transpose("x", "y").values for c in ("Bx", "By", "Bz")])
    mod = np.stack([cube[c].isel(z=0).transpose("x", "y").values for c in ("Bx", "By", "Bz")])
    ok = np.isfinite(obs)
    assert (~ok).any(), "the test record has a NaN patch"
    rel = np.sqrt(np.mean((mod[ok] - obs[ok]) ** 2) / np.mean(obs[ok] ** 2))
    assert rel < 0.35, f"bottom layer off the boundary data by {rel:.2f} (relative RMS)"
    # profiles over height
    assert np.allclose(profiles["z"], cube["z"])
    units = {"div_free_factor": "Mm-2", "force_free_factor": "1", "sigma_j": "1", "energy": "erg",
             "energy_pot": "erg", "free_energy": "erg"}
    for name, unit in units.items():
        assert profiles[name].dims == ("z",) and profiles[name].attrs["units"] == unit
        assert np.isfinite(profiles[name].values).all(), name
    assert (profiles["energy"] > 0).all() and (profiles["force_free_factor"] <= 1).all()
    assert np.allclose(profiles["free_energy"], profiles["energy"] - profiles["energy_pot"])
    for name in ("bottom", "fieldlines_xy", "fieldlines_3d", "profiles", "loss"):
        assert (base / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    row = json.loads((base / "row.json").read_text())
    assert row["harpnum"] in (377, 401) and row["t_rec"] == "2011.02.14_20:00:00_TAI"
    assert row["USFLUX"] == pytest.approx(2.1e22) and row["energy_erg"] > 0


def test_sharp_batch_keep_going_rerun_summary_classify_report(tmp_path, jsoc_server):
    good = "noaa\ttime\tbin\theight_mm\n11158\t2011-02-14T20:00\t4\t8\n11161\t2011-02-14T20:05\t4\t8\n"
    (tmp_path / "good.tsv").write_text(good)
    (tmp_path / "regions.tsv").write_text(good + "99999\t2011-02-14T20:00\t4\t8\n")
    write_config(tmp_path / "test.yaml", sharp_config(jsoc_server.url))
    regions = ["ar11158_20110214T2000", "ar11161_20110214T2005"]
    bad = "ar99999_20110214T2000"

    # 1. one bad region, two good ones, --keep-going
    rc, out = snakemake(tmp_path, "--configfile", "test.yaml", "--cores", "2", "--keep-going")
    assert rc != 0, out
    for region in regions:
        check_region(tmp_path / "results" / region)
    log = (tmp_path / "logs" / bad / "resolve.log").read_text()
    assert "NOAA 99999" in log and "no HARP" in log, log
    # the end of the run's output names the failed job and its reason (the Snakefile's onerror)
    report = out[out.rindex("job(s) failed"):out.rindex("to gather those that finished")]
    assert f"logs/{bad}/resolve.log: ffnn resolve: error: NOAA 99999" in report, report
    assert not any(f"logs/{r}/" in report for r in regions), report
    # fetch_sharp downloads what resolve found: the record lists come from resolve alone
    # (HARP lookup and record per good region, the lookup of the bad one)
    assert jsoc_server.count("rs_list") == 2 * 2 + 1 and jsoc_server.count("exp_request") == 2
    assert not (tmp_path / "results" / bad / "resolve.json").exists()
    assert not (tmp_path / "results" / "summary.tsv").exists()

    # 2. a rerun recomputes nothing that is complete
    done = sorted(p for r in regions for p in (tmp_path / "results" / r).rglob("*") if p.is_file())
    before = _mtimes(done)
    rc, out = snakemake(tmp_path, "--configfile", "test.yaml", "--cores", "2", "--keep-going", "-n")
    planned = set(re.findall(r"wildcards: region=(\S+)", out))
    assert planned == {bad}, out
    rc, out = snakemake(tmp_path, "--configfile", "test.yaml", "--cores", "2", "--keep-going")
    assert rc != 0
    assert _mtimes(done) == before
    assert set(re.findall(r"wildcards: region=(\S+)", out)) == {bad}, out

    # 3. without the bad region: only the summary and the forecast of the regions run
    rc, out = snakemake(tmp_path, "--configfile", "test.yaml", "--cores", "2",
                        "--config", "regions=good.tsv")
    assert rc == 0, out
    assert _mtimes(done) == before
    counts = job_counts(out)
    assert set(counts) == {"summary", "classify_predict", "all"}, counts
    import pandas as pd
    import xarray as xr

    table = pd.read_csv(tmp_path / "results/summary.tsv", sep="\t")
    assert list(table["region"]) == regions
    # the run ends on the regions whose trust checks failed (the Snakefile's onsuccess)
    checks = pd.read_csv(tmp_path / "results/checks.tsv", sep="\t")
    failed = checks[checks.status == "FAILED"].groupby("region", sort=False)["check"].apply(", ".join)
    assert len(failed) > 0  # budgets of seconds: not force-free
    tail = out[out.rindex("trust checks failed in"):]
    assert tail.splitlines()[1:1 + len(failed)] == [f"  {r}: {c}" for r, c in failed.items()], tail
    for col in ("noaa", "harpnum", "t_rec", "energy_erg", "free_energy_erg", "e_over_epot",
                "unsigned_flux_mx", "total_unsigned_current_a", "sigma_j", "mean_abs_fi",
                "loss_bc", "loss_div", "loss_ff", "wall_time_s", "USFLUX", "R_VALUE", "lat"):
        assert col in table.columns, col
    assert list(table["harpnum"]) == [377, 401]
    assert (table["energy_erg"] > 0).all() and (table["wall_time_s"] > 0).all()
    nc = xr.open_dataset(tmp_path / "results/summary.nc")
    assert nc.sizes["region"] == 2 and nc["energy_erg"].attrs["units"] == "erg"
    assert json.loads((tmp_path / "results/classify/metrics.json").read_text())["status"] == "fitted"
    forecast = pd.read_csv(tmp_path / "results/classify/regions/predictions.csv")
    assert forecast["region"].tolist() == regions and forecast["probability"].between(0, 1).all()

    # 4. the report
    rc, out = snakemake(tmp_path, "--configfile", "test.yaml", "--config", "regions=good.tsv",
                        "--report", "report.html")
    assert rc == 0, out
    assert "WARNING/2" not in out and "ERROR/3" not in out, out  # captions are clean RST
    assert (tmp_path / "report.html").stat().st_size > 10_000


# ---------------------------------------------------------------- a record already on disk

def test_local_record_runs_offline_to_its_summary_row(tmp_path):
    """A sheet row with sharp_dir (here the record shipped in the package) needs no JSOC:
    the record comes from the FITS headers, every later rule is the same."""
    shipped = "hmi.sharp_cea_720s.377.20110215_020000_TAI"
    (tmp_path / "regions.tsv").write_text(
        f"noaa\ttime\tsharp_dir\tbin\theight_mm\n11158\t2011-02-15T02:00\tffnn:{shipped}\t8\t12\n")
    config = sharp_config("http://127.0.0.1:9/")  # nothing listens there
    config["jsoc"]["email"] = None
    config["classify"] = {"enabled": False}
    # a training its time budget stops (a loaded machine's): the run's end says so (issue 26 item 9)
    config["train"] = {**TINY_TRAIN, "max_iterations": 100000, "time_budget_s": 4}
    write_config(tmp_path / "local.yaml", config)
    region = "ar11158_20110215T0200"
    rc, out = snakemake(tmp_path, "--configfile", "local.yaml", "--cores", "2",
                        f"results/{region}/row.json", "results/summary.tsv")
    assert rc == 0, out
    assert "fetch_sharp" not in job_counts(out) and not (tmp_path / "results" / region / "sharp").exists()
    record = json.loads((tmp_path / "results" / region / "resolve.json").read_text())
    assert (record["noaa"], record["harpnum"], record["t_rec"], record["quality"]) == \
        (11158, 377, "2011.02.15_02:00:00_TAI", 0)
    import xarray as xr

    bottom = xr.open_dataset(tmp_path / "results" / region / "boundary.nc")
    assert dict(bottom.sizes) == {"x": 93, "y": 47} and bottom.attrs["NOAA"] == 11158
    assert bottom.attrs["CDELT1"] == pytest.approx(0.24) and bottom.attrs["HARPNUM"] == 377
    cube = xr.open_dataset(tmp_path / "results" / region / "cube.nc")
    assert np.isfinite(cube["Bz"].values).all()
    row = json.loads((tmp_path / "results" / region / "row.json").read_text())
    assert (row["harpnum"], row["t_rec"], row["USFLUX"]) == (377, "2011.02.15_02:00:00_TAI", 2.71476e22)
    log = (tmp_path / "logs" / region / "boundary.log").read_text()
    assert "93 x 47 pixels (bin 8)" in log and "imbalance" in log, log
    # the run's last lines (the Snakefile's onsuccess; Snakemake's "Complete log" follows)
    tail = out[out.rindex("trust checks failed in"):].splitlines()
    assert tail[1] == f"  {region}: " + tail[1].split(": ", 1)[1] and "stopped_by_time_budget" in tail[1], tail
    assert tail[2] == (
        f"ffnn: training stopped by its time budget (train.time_budget_s), not at max_iterations, in {region}: "
        "a busier or slower machine gives another field; rerun where it reaches max_iterations, or raise "
        "time_budget_s"), tail
    import pandas as pd

    summary = pd.read_csv(tmp_path / "results/summary.tsv", sep="\t")
    assert summary.loc[0, "stop_reason"] == "time_budget" and "stopped_by_time_budget" in summary.loc[0, "flags"]


# ---------------------------------------------------------------- resume after a kill

def _train_pids(workdir: Path) -> list[int]:
    """PIDs of `ffnn train` processes running in ``workdir`` (started by this test)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in argv]
        if cwd == str(workdir) and "train" in words and "--outdir" in words \
                and any(w.endswith("ffnn") for w in words[:2]):
            pids.append(int(entry.name))
    return pids


def kill_training_at_checkpoint(proc, checkpoint: Path, pids, *, wait_s: float, finish_s: float) -> str:
    """Wait at most ``wait_s`` for ``checkpoint`` while the Snakemake run ``proc`` lives,
    let training go on a moment, SIGKILL the ``ffnn train`` processes ``pids()`` names and
    return the run's output once it has ended (within ``finish_s``). The run's process
    group is killed whatever fails."""
    try:
        deadline = time.monotonic() + wait_s
        while not checkpoint.exists():
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, f"no {checkpoint} within {wait_s:g} s"
            time.sleep(0.2)
        time.sleep(1.0)  # a few more iterations, past the first checkpoint
        running = pids()
        assert running, "ffnn train is not running"
        for pid in running:
            os.kill(pid, signal.SIGKILL)
        return proc.communicate(timeout=finish_s)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_killed_training_resumes_from_its_checkpoint(tmp_path):
    import torch

    # a case of its own: the shipped cases' training overrides (which apply under any
    # config) would replace this test's budget
    config = {"regions": None,
              "lowlou": {"regions": ["lowlou_tiny"], "shape": [12, 12, 12],
                         "cases": {"lowlou_tiny": {"n": 1, "boundary": "faces"}}},
              "train": {**TINY_TRAIN, "hidden_layers": 2, "width": 16, "max_iterations": 100000,
                        "time_budget_s": 300, "iterations_per_step": 1, "checkpoint_every": 3},
              "resources": {"train": {"threads": 1}}, "classify": {"enabled": False}}
    write_config(tmp_path / "run.yaml", config)
    target = "results/lowlou_tiny/train/model.pt"
    train_dir = tmp_path / "results/lowlou_tiny/train"
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--workflow-profile", "none",
           "--configfile", "run.yaml", "--cores", "1", target]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=_env(), start_new_session=True)
    out = kill_training_at_checkpoint(proc, train_dir / "checkpoint.pt", lambda: _train_pids(tmp_path),
                                      wait_s=240, finish_s=120)
    assert proc.returncode != 0, out
    assert "Error in rule train" in out, out
    assert (train_dir / "checkpoint.pt").exists()
    assert not (train_dir / "model.pt").exists()
    state = torch.load(train_dir / "checkpoint.pt", weights_only=False)
    done = state["history"][-1]["iteration"]
    assert done >= 3

    # rerun with a budget a few iterations past the checkpoint (a resumable setting)
    config["train"]["max_iterations"] = done + 6
    write_config(tmp_path / "run.yaml", config)
    rc, out = snakemake(tmp_path, "--configfile", "run.yaml", "--cores", "1", target)
    assert rc == 0, out
    log = (tmp_path / "logs/lowlou_tiny/train.log").read_text()
    assert f"at iteration {done}" in log and "resumed from" in log, log
    record = json.loads((train_dir / "train.json").read_text())
    assert record["iterations"] == done + 6
    import pandas as pd

    history = pd.read_csv(train_dir / "loss.csv")
    assert list(history["iteration"]) == list(range(1, done + 7))
