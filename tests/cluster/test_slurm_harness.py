"""The SLURM harness itself: a real one-node SLURM (conftest.py) and the shipped profile
(profiles/slurm) with snakemake-executor-plugin-slurm, on tiny self-contained
Snakefiles whose rule names match the workflow's (fetch_sharp, train), so that the
profile's per-rule resources apply.

Run:  python3 -m pytest tests/cluster -m cluster
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

from .conftest import SHIPPED_PROFILE, run_snakemake, write_test_profile

TWO_RULES = textwrap.dedent(
    """\
    localrules: all

    rule all:
        input: "results/trained.txt"

    rule fetch_sharp:
        output: "results/fetched.txt"
        resources: jsoc=1
        shell: "echo fetch_sharp job=${{SLURM_JOB_ID:-none}} partition=${{SLURM_JOB_PARTITION:-none}} > {output}"

    rule train:
        input: "results/fetched.txt"
        output: "results/trained.txt"
        shell:
            "cat {input} > {output}; "
            "echo train job=${{SLURM_JOB_ID:-none}} partition=${{SLURM_JOB_PARTITION:-none}} >> {output}"
    """
)

# The cause is computed at run time, so that it cannot reach Snakemake's output by way
# of the echoed shell command, only by way of the job's log.
ONE_BAD_REGION = textwrap.dedent(
    """\
    localrules: all

    rule all:
        input: expand("results/{region}.txt", region=["good", "bad"])

    rule fetch_sharp:
        output: "results/{region}.txt"
        resources: jsoc=1
        shell:
            '''
            if [ "{wildcards.region}" = bad ]; then
                echo "ffnn: error: no SHARP data for HARPNUM $((99990 + 9))" >&2
                exit 3
            fi
            echo ok > {output}
            '''
    """
)


def _check_ok(run, what: str) -> None:
    assert run.returncode == 0, f"{what}: snakemake exited {run.returncode}:\n{run.output}"
    assert run.run_id, f"{what}: no 'SLURM run ID' in the output:\n{run.output}"


def test_shipped_profile_dry_run(tmp_path):
    """The shipped profile parses and its keys are flags Snakemake and the plugin know
    (no cluster needed: a dry run does not submit)."""
    (tmp_path / "Snakefile").write_text(TWO_RULES)
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--profile", str(SHIPPED_PROFILE), "--workflow-profile", "none", "-n"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    # set-resources of the profile reached the rules
    train_block = out[out.index("rule train:"):]
    assert "slurm_partition=gpu" in train_block and "gpu=1" in train_block, out
    assert "jsoc=1" in out[out.index("rule fetch_sharp:"):], out


@pytest.mark.cluster
def test_sbatch_and_srun_work(slurm_cluster, tmp_path):
    """Raw SLURM first (a failure here points at the cluster, not at Snakemake)."""
    log = tmp_path / "raw.log"
    proc = slurm_cluster.run(
        "sbatch", "--parsable", "-o", str(log), "--comment", "rule_raw", "-t", "2",
        "--wrap", "srun -n1 echo step-ran-on-$(hostname)",
    )
    job_id = proc.stdout.strip().split(";")[0]
    slurm_cluster.wait_until_no_jobs(timeout=60)
    rec = {r["JobId"]: r for r in slurm_cluster.job_records()}[job_id]
    assert rec["JobState"] == "COMPLETED", rec
    assert rec["rule"] == "raw" and rec["Partition"] == slurm_cluster.partition, rec
    assert "step-ran-on-" in log.read_text()


@pytest.mark.cluster
def test_two_rules_go_through_sbatch(slurm_cluster, tmp_path):
    """fetch_sharp -> train through `snakemake --profile` with the slurm executor: both
    jobs are SLURM jobs (job records with the rule names, SLURM_JOB_ID inside), train
    gets the profile's GPU partition and one GPU, fetch_sharp the default partition."""
    (tmp_path / "Snakefile").write_text(TWO_RULES)
    profile = write_test_profile(tmp_path / "profile", slurm_cluster)

    run = run_snakemake(slurm_cluster, tmp_path, profile, timeout=240)
    print(f"two-rule workflow on SLURM: {run.seconds:.1f} s")
    _check_ok(run, "two-rule workflow")

    lines = (tmp_path / "results" / "trained.txt").read_text().split("\n")
    fetched = re.fullmatch(r"fetch_sharp job=(\d+) partition=(\S+)", lines[0])
    trained = re.fullmatch(r"train job=(\d+) partition=(\S+)", lines[1])
    assert fetched and trained, f"jobs did not run inside SLURM: {lines}"

    records = slurm_cluster.job_records(run.run_id)
    by_rule = {r["rule"]: r for r in records}
    assert sorted(r["rule"] for r in records) == ["fetch_sharp", "train"], records
    assert all(r["JobState"] == "COMPLETED" for r in records), records
    assert by_rule["fetch_sharp"]["JobId"] == fetched.group(1)
    assert by_rule["train"]["JobId"] == trained.group(1)
    assert by_rule["fetch_sharp"]["Partition"] == fetched.group(2) == slurm_cluster.partition
    assert by_rule["train"]["Partition"] == trained.group(2) == slurm_cluster.gpu_partition
    assert "gpu:1" in by_rule["train"].get("TresPerJob", ""), by_rule["train"]

    for rule, rec in by_rule.items():
        log = tmp_path / ".snakemake" / "slurm_logs" / f"rule_{rule}" / f"{rec['JobId']}.log"
        assert log.exists(), f"no SLURM log {log}"
        assert f"has been submitted with SLURM jobid {rec['JobId']} (log: {log})" in run.output


@pytest.mark.cluster
def test_failed_job_shows_log_path_and_cause(slurm_cluster, tmp_path):
    """One region fails on the cluster: Snakemake's output names the job's SLURM log and
    shows the cause; the other region's job still finishes."""
    (tmp_path / "Snakefile").write_text(ONE_BAD_REGION)
    profile = write_test_profile(tmp_path / "profile", slurm_cluster)

    run = run_snakemake(slurm_cluster, tmp_path, profile, timeout=240)
    print(f"two-region workflow with one failure on SLURM: {run.seconds:.1f} s")
    assert run.returncode != 0, run.output
    assert run.run_id, run.output
    assert (tmp_path / "results" / "good.txt").read_text() == "ok\n"
    assert not (tmp_path / "results" / "bad.txt").exists()

    records = slurm_cluster.job_records(run.run_id)
    states = sorted((r["rule"], r["JobState"]) for r in records)
    assert states == [("fetch_sharp", "COMPLETED"), ("fetch_sharp", "FAILED")], records
    bad = next(r for r in records if r["JobState"] == "FAILED")
    log = tmp_path / ".snakemake" / "slurm_logs" / "rule_fetch_sharp" / "bad" / f"{bad['JobId']}.log"
    cause = "ffnn: error: no SHARP data for HARPNUM 99999"
    assert cause in log.read_text()

    out = run.output
    error_at = out.index("Error in rule fetch_sharp:")
    block = out[error_at:]
    assert f"SLURM-job '{bad['JobId']}' failed" in block, block
    log_lines = [ln for ln in block.splitlines() if ln.strip().startswith("log:")]
    assert log_lines and str(log) in log_lines[0], block
    assert cause in block, f"cause not in Snakemake's output:\n{out}"
