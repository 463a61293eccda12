"""The real ffnn workflow on a real one-node SLURM (issue 6), next to a local run.

One module-scoped run does the work (a copy of workflow/ and config/ in a
temporary directory): two small SHARP regions served by the JSOC look-alike
(tests/jsoc_server.py) and one region JSOC does not have, through
``snakemake --profile <the shipped slurm profile, adapted to the test cluster>`` up to
each region's field cube ``results/<region>/cube.nc``. The same workflow with the same
config (and seed) runs at the same time with ``snakemake --cores 2`` in another
directory (niced, so that it takes what the SLURM jobs leave). Training stops at a fixed
iteration count (``max_iterations``; the time budget is far away) on one thread, so both
runs do the same arithmetic.

* every job went through sbatch: SLURM's job records carry the rule and region of each
  (resolve, fetch_sharp, boundary, potential, train, cube per good region, one failed
  resolve for the bad one), train on the ``gpu`` partition with one GPU;
* the products are identical in content to the local run's (NetCDF variables and
  coordinates bit for bit, attributes, JSON records, model weights, loss history, FITS
  downloads), except the fields that hold a measured wall time, named in ``WALL_TIME``;
* the bad region: Snakemake's output names the failed job's logs and shows the cause
  (the ffnn error naming the region); the good regions' products exist;
* training on this node (no CUDA inside jobs) with ``device: auto`` logs the CPU
  fall-back warning; with ``device: cuda`` the train job fails with a message naming CUDA.

Run:  python3 -m pytest tests/cluster -m cluster -rs
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from jsoc_server import FakeJSOC, default_records

from .conftest import REPO, run_snakemake, write_test_profile

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

GOOD = ["ar11158_20110214T2000", "ar11161_20110214T2005"]
BAD = "ar99999_20110214T2000"
SHEET = (
    "noaa\ttime\tbin\theight_mm\n"
    "11158\t2011-02-14T20:00\t4\t8\n"
    "11161\t2011-02-14T20:05\t4\t8\n"
    "99999\t2011-02-14T20:00\t4\t8\n"  # JSOC has no HARP with NOAA 99999
)
# The rules between the region sheet and a region's field cube (results/<region>/cube.nc).
# The later per-region products (quality, figures, summary row) are left out: each rule
# is one more round of SLURM jobs (25-50 s here), and test_workflow.py checks them.
PER_REGION_RULES = ["resolve", "fetch_sharp", "boundary", "potential", "train", "cube"]
TARGETS = [f"results/{r}/cube.nc" for r in GOOD + [BAD]]

# A tiny network and sample, stopped by the iteration count, one thread.
TRAIN = {
    "hidden_layers": 2, "width": 16, "n_interior": 300, "warmup_iterations": 5,
    "warmup_interior": 100, "iterations_per_step": 5, "max_iterations": 20,
    "checkpoint_every": 10, "time_budget_s": 3600, "seed": 3, "device": "auto",
}

# What legitimately differs between two runs: the measured training time. Everything
# else must be equal. (No product records a host name, a date or a thread count that
# differs: threads are 1 in both runs.)
WALL_TIME = {
    "cube.nc": {"training_wall_time_s"},  # a global attribute
    "train.json": {"elapsed_s"},
    "model.pt": {"elapsed_s"},  # in its metadata (the same record as train.json)
    "loss.csv": {"elapsed_s"},  # a column
}

# First SLURM status check this many seconds after a job finished (write_test_profile's
# default is 3 s); while none finishes, the plugin waits 10 s longer each time: checks
# at 7, 24, 51, ... s. A job here takes 10-22 s (two Snakemake start-ups in the job and
# an ffnn command), so each round of jobs is seen finished after 24 s, rarely 51 s.
STATUS_CHECK_S = 7

CPU_LINE = "training on the CPU (device auto: no CUDA GPU available)"  # logged at level INFO
CUDA_ERROR = "device='cuda' was requested but no CUDA GPU is available on this node"
BAD_CAUSE = "ffnn resolve: error: NOAA 99999: the region is in no HARP"


def _config(jsoc_url: str, **train) -> dict:
    return {
        "regions": "sheet.tsv",
        "lowlou": {"regions": []},
        "jsoc": {"url": jsoc_url, "email": "tester@example.org", "retries": 1, "backoff_s": 0, "poll_s": 0},
        "train": {**TRAIN, **train},
        "resources": {"train": {"threads": 1}},
    }


def _workdir(path: Path, config: dict) -> Path:
    """A copy of the workflow with the region sheet and ``test.yaml``."""
    path.mkdir(parents=True)
    shutil.copy2(REPO / "environment.yml", path / "environment.yml")  # the rules' conda: directive
    for name in ("workflow", "config"):
        shutil.copytree(REPO / name, path / name, ignore=shutil.ignore_patterns("__pycache__"))
    (path / "sheet.tsv").write_text(SHEET)
    (path / "test.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _region_of(record: dict) -> str:
    m = re.search(r"_wildcards_(.+)$", record.get("Comment", "")) or re.search(
        r"/rule_[^/]+/([^/]+)/\d+\.log$", record.get("StdOut", ""))
    return m.group(1) if m else ""


@pytest.fixture(scope="module")
def job_env():
    """The jobs' ``ffnn`` is this Python's; no JSOC settings from the caller's environment
    (the config names the server). SLURM jobs inherit the submitting environment."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
        mp.setenv("MPLBACKEND", "Agg")
        mp.delenv("JSOC_URL", raising=False)
        mp.delenv("JSOC_EMAIL", raising=False)
        yield


@pytest.fixture(scope="module")
def runs(slurm_cluster, job_env, tmp_path_factory):
    """The workflow on SLURM and, at the same time, locally; both to the end."""
    jsoc = FakeJSOC(default_records())
    jsoc.start()
    base = tmp_path_factory.mktemp("workflow_slurm")
    try:
        config = _config(jsoc.url)
        cluster_dir = _workdir(base / "slurm", config)
        local_dir = _workdir(base / "local", config)
        profile = write_test_profile(base / "profile", slurm_cluster,
                                     slurm_init_seconds_before_status_checks=STATUS_CHECK_S)

        local_log = base / "local.out"
        with open(local_log, "w") as out:
            local = subprocess.Popen(
                ["nice", "-n", "15", sys.executable, "-m", "snakemake", "--workflow-profile", "none",
                 "--cores", "2", "--keep-going", *TARGETS, "--configfile", "test.yaml"],
                cwd=local_dir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            # (targets before --configfile, which takes every word after it)
            cluster = run_snakemake(slurm_cluster, cluster_dir, profile, *TARGETS, "--configfile", "test.yaml",
                                    timeout=600)
            try:
                local.wait(timeout=max(60.0, 600 - cluster.seconds))
            except subprocess.TimeoutExpired:
                pytest.fail(f"the local run did not finish:\n{local_log.read_text()}", pytrace=False)
        finally:
            if local.poll() is None:
                os.killpg(local.pid, signal.SIGKILL)
                local.wait()
        local_output = local_log.read_text()
        m = re.search(r"Elapsed time: (\S+)", local_output)
        print(f"workflow on SLURM: {cluster.seconds:.1f} s; locally (side by side): {m and m.group(1)}")
        yield SimpleNamespace(
            cluster=cluster, cluster_dir=cluster_dir, local_dir=local_dir, local_rc=local.returncode,
            local_output=local_output, profile=profile, jsoc=jsoc,
        )
    finally:
        jsoc.stop()


# ----------------------------------------------------------------------------- sbatch


def test_jobs_went_through_sbatch(runs, slurm_cluster):
    """SLURM's records of this Snakemake run: one job per rule and region, the rule
    names of the workflow, train on the gpu partition with one GPU, a SLURM log each."""
    run = runs.cluster
    assert run.run_id, f"no 'SLURM run ID' in the output:\n{run.output}"
    assert run.returncode != 0, "the bad region should make the run fail (keep-going)"
    records = slurm_cluster.job_records(run.run_id)
    got = sorted((r["rule"], _region_of(r), r["JobState"]) for r in records)
    expected = sorted([(rule, region, "COMPLETED") for region in GOOD for rule in PER_REGION_RULES]
                      + [("resolve", BAD, "FAILED")])
    assert got == expected, f"{got}\n{run.output}"

    for rec in records:
        print(rec["JobId"], rec["rule"], _region_of(rec), rec.get("SubmitTime"), rec.get("StartTime"),
              rec.get("EndTime"))
        log = (runs.cluster_dir / ".snakemake" / "slurm_logs" / f"rule_{rec['rule']}" / _region_of(rec)
               / f"{rec['JobId']}.log")
        assert log.exists(), f"no SLURM log {log}"
        assert f"has been submitted with SLURM jobid {rec['JobId']} (log: {log})" in run.output
        if rec["rule"] == "train":
            assert rec["Partition"] == slurm_cluster.gpu_partition, rec
            assert "gpu:1" in rec.get("TresPerJob", ""), rec
        else:
            assert rec["Partition"] == slurm_cluster.partition, rec
            assert "gpu" not in rec.get("TresPerJob", ""), rec


# ----------------------------------------------------------------------------- products


def _same(a, b) -> bool:
    """Equal attribute values (a NaN _FillValue equals itself)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    return a.shape == b.shape and a.dtype == b.dtype and bool(np.all(a == b))


def _compare_netcdf(a: Path, b: Path, skip_attrs: set[str]) -> None:
    import xarray as xr

    with xr.open_dataset(a, mask_and_scale=False, decode_times=False) as da, \
            xr.open_dataset(b, mask_and_scale=False, decode_times=False) as db:
        assert sorted(da.variables) == sorted(db.variables), (a, b)
        assert dict(da.sizes) == dict(db.sizes), (a, b)
        for name in da.variables:
            va, vb = da[name], db[name]
            assert va.dims == vb.dims and va.dtype == vb.dtype, (a, name)
            # bit for bit (NaN patches included)
            assert va.values.tobytes() == vb.values.tobytes(), f"{a}: {name} differs from the local run"
            assert va.attrs.keys() == vb.attrs.keys(), (a, name)
            for key in va.attrs:
                assert _same(va.attrs[key], vb.attrs[key]), (a, name, key)
        keys = set(da.attrs) | set(db.attrs)
        assert skip_attrs <= keys, f"{a}: {skip_attrs - keys} not among the attributes"
        for key in sorted(keys - skip_attrs):
            assert key in da.attrs and key in db.attrs, (a, key)
            assert _same(da.attrs[key], db.attrs[key]), f"{a}: attribute {key} differs"


def _check_cube(base: Path) -> None:
    """A finished region: the cube covers the bottom map, with finite fields."""
    import xarray as xr

    with xr.open_dataset(base / "cube.nc") as cube, xr.open_dataset(base / "boundary.nc") as bottom:
        assert (cube.sizes["x"], cube.sizes["y"]) == (bottom.sizes["x"], bottom.sizes["y"])
        assert cube.sizes["z"] >= 3 and cube["z"].values[-1] == pytest.approx(float(bottom.attrs["height_mm"]))
        for name in ("Bx", "By", "Bz", "Jx", "Jy", "Jz", "divB"):
            assert np.isfinite(cube[name].values).all(), (base, name)
        assert float(np.abs(cube["Bz"].isel(z=0)).max()) > 0


def _without(record: dict, keys: set[str]) -> dict:
    assert keys <= record.keys(), f"{keys - record.keys()} not in the record"
    return {k: v for k, v in record.items() if k not in keys}


def _differences(a, b, where: str = "") -> dict:
    """{"key.subkey": (a's value, b's value)} where the records ``a`` and ``b`` differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = {}
        for k in sorted(set(a) | set(b), key=str):
            out.update(_differences(a.get(k), b.get(k), f"{where}.{k}" if where else str(k)))
        return out
    return {} if a == b else {where: (a, b)}


def _same_record(a: dict, b: dict, skip: set[str], what: str) -> None:
    differ = _differences(_without(a, skip), _without(b, skip))
    assert not differ, f"{what} differs from the local run (SLURM, local): {differ}"


# Products in the order the workflow makes them, so that the first difference found is
# the most upstream one (e.g. other training settings before the cube they lead to).
PIPELINE = ["resolve.json", "sharp/", "boundary.nc", "pf_faces.nc", "potential.nc", "train/train.json",
            "train/model.pt", "train/", "cube.nc"]


def _pipeline_order(rel: Path) -> tuple[int, str]:
    name = rel.as_posix()
    return next((i for i, p in enumerate(PIPELINE) if name.startswith(p)), len(PIPELINE)), name


def test_products_identical_to_a_local_run(runs):
    """Every product of the SLURM run equals the local run's, bit for bit, except the
    measured training time (WALL_TIME)."""
    import pandas as pd
    import torch

    assert runs.local_rc != 0, runs.local_output  # the bad region fails there too
    products = {"resolve.json", "sharp/sharp.json", "boundary.nc", "pf_faces.nc", "potential.nc",
                "train/model.pt", "train/train.json", "train/loss.csv", "cube.nc"}
    for region in GOOD:
        compared = set()
        a_dir, b_dir = runs.cluster_dir / "results" / region, runs.local_dir / "results" / region
        assert (a_dir / "cube.nc").exists(), f"no cube.nc after the SLURM run:\n{runs.cluster.output}"
        assert (b_dir / "cube.nc").exists(), f"no cube.nc after the local run:\n{runs.local_output}"
        _check_cube(a_dir)
        for rel in sorted((p.relative_to(a_dir) for p in a_dir.rglob("*") if p.is_file()), key=_pipeline_order):
            a = a_dir / rel
            b = b_dir / rel
            if rel.parts[0] == "benchmarks" or a.name == "checkpoint.pt" or a.name.endswith(".ffnn-done"):
                # Snakemake's timing tables; model.pt's weights with optimiser state; the
                # records of finished commands (working directory, file times)
                continue
            assert b.exists(), f"{rel} of {region}: only in the SLURM run"
            if a.suffix == ".nc":
                _compare_netcdf(a, b, WALL_TIME.get(a.name, set()))
            elif a.suffix == ".json":
                _same_record(json.loads(a.read_text()), json.loads(b.read_text()), WALL_TIME.get(a.name, set()),
                             f"{rel} of {region}")
            elif a.name == "model.pt":
                ma = torch.load(a, map_location="cpu", weights_only=False)
                mb = torch.load(b, map_location="cpu", weights_only=False)
                _same_record(ma["meta"], mb["meta"], WALL_TIME["model.pt"], f"{rel} of {region} (metadata)")
                assert ma["state_dict"].keys() == mb["state_dict"].keys()
                for key, ta in ma["state_dict"].items():
                    assert torch.equal(ta, mb["state_dict"][key]), f"{rel} of {region}: weights {key} differ"
                assert ma["meta"]["iterations"] == TRAIN["max_iterations"]
                assert ma["meta"]["stop_reason"] == "max_iterations"
            elif a.suffix == ".csv":
                la, lb = pd.read_csv(a), pd.read_csv(b)
                skip = list(WALL_TIME[a.name])
                pd.testing.assert_frame_equal(la.drop(columns=skip), lb.drop(columns=skip), check_exact=True)
            else:  # the FITS segments as downloaded
                assert a.read_bytes() == b.read_bytes(), f"{rel} of {region} differs"
            compared.add(str(rel))
        only_local = {p.relative_to(b_dir) for p in b_dir.rglob("*") if p.is_file()} - {
            p.relative_to(a_dir) for p in a_dir.rglob("*") if p.is_file()}
        assert not only_local, f"only in the local run: {only_local}"
        assert products <= compared, products - compared
        assert len([p for p in compared if p.endswith(".fits")]) == 6, compared  # Br, Bp, Bt and errors


# ----------------------------------------------------------------------------- failure


def test_bad_region_shows_log_path_and_cause(runs, slurm_cluster):
    """The region JSOC does not have: its job's logs are named and the ffnn error is in
    Snakemake's output; the good regions' products exist all the same."""
    out = runs.cluster.output
    bad = [r for r in slurm_cluster.job_records(runs.cluster.run_id) if r["JobState"] == "FAILED"]
    assert len(bad) == 1 and bad[0]["rule"] == "resolve" and _region_of(bad[0]) == BAD, bad
    job_id = bad[0]["JobId"]
    rule_log = f"logs/{BAD}/resolve.log"
    slurm_log = runs.cluster_dir / ".snakemake" / "slurm_logs" / "rule_resolve" / BAD / f"{job_id}.log"

    # the cause is in the rule's log (the job ran ffnn, which failed) ...
    assert BAD_CAUSE in (runs.cluster_dir / rule_log).read_text()
    # ... and in Snakemake's output, with the paths of both logs
    blocks = [b for b in out.split("Error in rule ")[1:] if f"region={BAD}" in b[:2000]]
    assert blocks and blocks[0].startswith("resolve:"), out
    block = blocks[0]
    assert f"SLURM-job '{job_id}' failed" in block, block
    log_line = next((ln for ln in block.splitlines() if ln.strip().startswith("log:")), "")
    assert rule_log in log_line and str(slurm_log) in log_line, block
    assert BAD_CAUSE in out[out.index("Error in rule resolve:"):], out

    for region in GOOD:
        _check_cube(runs.cluster_dir / "results" / region)
    assert not (runs.cluster_dir / "results" / BAD / "resolve.json").exists()


# ----------------------------------------------------------------------------- device


def test_train_on_a_node_without_gpu_falls_back_to_cpu(runs, slurm_cluster):
    """device: auto, a job on the gpu partition whose node has no CUDA: the rule's log
    says so once (INFO: no fault), the model records the CPU."""
    trains = {_region_of(r): r for r in slurm_cluster.job_records(runs.cluster.run_id) if r["rule"] == "train"}
    assert sorted(trains) == GOOD
    for region in GOOD:
        log = (runs.cluster_dir / "logs" / region / "train.log").read_text()
        assert len([line for line in log.splitlines() if CPU_LINE in line]) == 1, log
        assert "WARNING" not in log or "no CUDA" not in log, log
        record = json.loads((runs.cluster_dir / "results" / region / "train" / "train.json").read_text())
        assert record["device"] == "cpu" and record["config"]["device"] == "auto", record


def test_device_cuda_without_gpu_fails_clearly(runs, slurm_cluster, tmp_path):
    """device: cuda on the same node: the train rule's command, submitted like the train
    job (gpu partition, one GPU) with the region's boundary files and the workflow's
    settings, fails with a message naming CUDA. (A direct sbatch: through Snakemake it
    would be another 30-90 s of start-up and status polling here; how Snakemake reports
    a failed job is shown by the bad region.)"""
    region = GOOD[0]
    settings = {**TRAIN, "device": "cuda", "progress": False}
    words = ["ffnn", "train", f"results/{region}/boundary.nc", f"results/{region}/pf_faces.nc",
             "--outdir", str(tmp_path / "train"), "--threads", "1"]
    for key, value in sorted(settings.items()):  # as ffnn.pipeline.jobs.Jobs.train_args passes them
        words += ["--set", f"{key}={json.dumps(value)}"]
    log = tmp_path / "train_cuda.log"
    submitted = slurm_cluster.run(
        "sbatch", "--parsable", "-p", slurm_cluster.gpu_partition, "--gpus=1", "-t", "5", "--mem", "2000",
        "--comment", "rule_train_cuda", "-D", str(runs.cluster_dir), "-o", str(log),
        "--wrap", " ".join(shlex.quote(w) for w in words),
    )
    job_id = submitted.stdout.strip().split(";")[0]
    slurm_cluster.wait_until_no_jobs(timeout=180)
    rec = {r["JobId"]: r for r in slurm_cluster.job_records()}[job_id]
    # exit status 2: ffnn's own error (ffnn/cli/app.py), not a crash (1, with a traceback)
    assert rec["JobState"] == "FAILED" and rec["ExitCode"] == "2:0", rec
    assert rec["Partition"] == slurm_cluster.gpu_partition and "gpu:1" in rec.get("TresPerJob", ""), rec
    text = log.read_text()
    assert f"ffnn train: error: {CUDA_ERROR}" in text, text
    assert "Traceback" not in text, text
    assert not (tmp_path / "train" / "model.pt").exists()
