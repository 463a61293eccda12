"""A real one-node SLURM cluster on 127.0.0.1 for the tests in tests/cluster/.

The session-scoped fixture ``slurm_cluster`` starts, from Debian's ``slurm-wlm`` and
``munge`` packages (``.ci/install-slurm.sh`` installs them):

* ``munged`` with its own key and socket in a temporary directory,
* ``slurmctld`` and ``slurmd`` in the foreground (``-D``) under ``subprocess.Popen``,

with a ``slurm.conf`` (and ``gres.conf``) written to ``/etc/slurm/`` (``srun`` inside
jobs ignores ``SLURM_CONF``, so the files have to be at their compiled-in place; files
that were there are backed up and restored on teardown).

The cluster has one node (this machine, as ``127.0.0.1``), two partitions on it:
``debug`` (the default) and ``gpu``, and one GPU that exists only in SLURM's books (a
gres without a device), so that the shipped profile's ``train`` resources
(``slurm_partition: gpu``, ``gpu: 1`` -> ``sbatch -p gpu --gpus=1``) are accepted,
while CUDA is still unavailable inside the job: the "cluster node without a GPU" case.

Teardown cancels the jobs still queued, stops every daemon the fixture started by its
PID (SIGTERM, then SIGKILL after a bounded wait) and kills, again by PID, any
``slurmstepd`` that appeared while the cluster ran and did not end with its job.

Skips (with the reason) where the programs are missing or the tests do not run as root;
fails (with the daemon logs) where the programs are there but the cluster does not come
up. Only one pytest session at a time can own the cluster (``/etc/slurm`` is global):
a second one waits for a lock (bounded, ``FFNN_SLURM_LOCK_WAIT_S``, default 900 s).

Helpers for tests: :func:`write_test_profile` (the shipped profile adapted to this
cluster) and :func:`run_snakemake` (bounded run, output, SLURM run ID, duration).
"""

from __future__ import annotations

import atexit
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SHIPPED_PROFILE = REPO / "profiles" / "slurm"

SLURM_ETC = Path("/etc/slurm")
MARKER = "# Written by tests/cluster/conftest.py"
PARTITION = "debug"
GPU_PARTITION = "gpu"
CLUSTER_NAME = "ffnntest"
# How long the controller keeps finished jobs (they stay visible to squeue and
# ``scontrol show job``, with their Comment = Snakemake rule). The plugin only uses
# ``squeue`` for status queries when MinJobAge >= 3 x init-seconds-before-status-checks;
# below that it silently switches to ``sacct``, which fails without accounting and
# leaves Snakemake waiting for ever. An hour keeps every job of a test session visible.
MIN_JOB_AGE = 3600
FAKE_GPUS = 1

REQUIRED_PROGRAMS = (
    "munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "scancel", "srun",
)
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 15
CMD_TIMEOUT_S = 20
LOCK_PATH = Path(tempfile.gettempdir()) / "ffnn-slurm-test.lock"

_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin"])


def _which(prog: str) -> str | None:
    return shutil.which(prog, path=_SEARCH_PATH)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, n: int = 40) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(lines[-n:])


def _pids_of(comm: str) -> set[int]:
    """PIDs of processes whose executable name (``/proc/PID/comm``) is ``comm``."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == comm:
                pids.add(int(entry.name))
        except OSError:
            continue
    return pids


def _parse_records(text: str) -> list[dict[str, str]]:
    """Parse ``scontrol -o show job`` and jobcomp/filetxt output: one job per line,
    space-separated ``Key=Value`` pairs."""
    records = []
    for line in text.splitlines():
        if "JobId=" not in line:
            continue
        rec: dict[str, str] = {}
        for m in re.finditer(r"([A-Za-z][\w:/]*)=(\S*)", line):
            rec.setdefault(m.group(1), m.group(2))
        records.append(rec)
    return records


@dataclass
class SlurmCluster:
    """Handle on the running one-node cluster, yielded by the ``slurm_cluster`` fixture."""

    partition: str  # the default partition
    gpu_partition: str  # a second partition on the same node
    nodename: str
    cpus: int
    real_memory_mb: int
    gpus: int  # GPUs in SLURM's books (no device behind them)
    tmpdir: Path
    conf_path: Path
    jobcomp_path: Path
    logs: dict[str, Path] = field(default_factory=dict)

    def run(self, *args: str, check: bool = True, timeout: float = CMD_TIMEOUT_S) -> subprocess.CompletedProcess:
        """Run a SLURM client command (e.g. ``run("squeue")``) with a bounded wait."""
        exe = _which(args[0]) or args[0]
        return subprocess.run(
            [exe, *args[1:]], capture_output=True, text=True, timeout=timeout, check=check, env=self.env()
        )

    def live_jobs(self) -> list[dict[str, str]]:
        """Jobs the controller knows (pending, running, or finished less than MinJobAge
        ago), from ``scontrol -o show job``: JobId, JobName, JobState, Comment, StdOut,
        Partition, ExitCode, TresPerJob, ..."""
        proc = self.run("scontrol", "-o", "show", "job", check=False)
        if proc.returncode != 0:
            return []
        return _parse_records(proc.stdout)

    def finished_jobs(self) -> list[dict[str, str]]:
        """Every job that ended since the cluster started, from the jobcomp/filetxt
        file (there is no accounting database): JobId, Name, JobState, Partition,
        ExitCode, WorkDir, ... (no Comment or StdOut)."""
        if not self.jobcomp_path.exists():
            return []
        return _parse_records(self.jobcomp_path.read_text(errors="replace"))

    def job_records(self, run_id: str | None = None) -> list[dict[str, str]]:
        """All jobs of this cluster, merging the jobcomp records and the live view,
        sorted by JobId. With ``run_id`` (Snakemake's "SLURM run ID", which the plugin
        uses as the job name) only the jobs of that Snakemake run. Each record gets a
        ``rule`` key (see :meth:`rule_of`)."""
        merged: dict[str, dict[str, str]] = {}
        for rec in self.finished_jobs() + self.live_jobs():
            merged.setdefault(rec["JobId"], {}).update(rec)
        out = []
        for key in sorted(merged, key=lambda s: int(re.match(r"\d*", s).group() or 0)):
            rec = merged[key]
            if run_id is not None and run_id not in (rec.get("JobName"), rec.get("Name")):
                continue
            rec["rule"] = self.rule_of(rec) or ""
            out.append(rec)
        return out

    @staticmethod
    def rule_of(record: dict[str, str]) -> str | None:
        """The Snakemake rule of a job record: the plugin submits with
        ``--comment rule_<name>[_wildcards_<w>]`` and
        ``--output .snakemake/slurm_logs/rule_<name>/[<w>/]<jobid>.log``."""
        m = re.match(r"rule_(\w+?)(?:_wildcards_.*)?$", record.get("Comment", ""))
        if m:
            return m.group(1)
        m = re.search(r"/rule_([^/]+)/", record.get("StdOut", ""))
        return m.group(1) if m else None

    def wait_until_no_jobs(self, timeout: float = 60) -> None:
        """Bounded wait until no job is pending, running or completing."""
        deadline = time.monotonic() + timeout
        out = ""
        while time.monotonic() < deadline:
            proc = self.run("squeue", "-h", "-t", "PD,R,CG", "-o", "%i %T %j", check=False)
            out = proc.stdout
            if proc.returncode == 0 and not out.strip():
                return
            time.sleep(0.5)
        raise TimeoutError(f"jobs still queued after {timeout} s:\n{out}")

    def env(self) -> dict[str, str]:
        """Environment for subprocesses that talk to this cluster."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
        env["SLURM_CONF"] = str(self.conf_path)
        return env

    def daemon_logs(self, n: int = 30) -> str:
        return "\n".join(f"--- {p} (tail) ---\n{_tail(p, n)}" for p in self.logs.values() if p.exists())


# ----------------------------------------------------------------------------- helpers


def write_test_profile(dest: Path, cluster: SlurmCluster, base: Path | None = SHIPPED_PROFILE, **overrides) -> Path:
    """Write ``dest/config.yaml``: the profile in ``base`` (the shipped
    ``profiles/slurm`` by default; ``None`` for an empty one) adapted to the
    test cluster, then ``overrides`` (profile keys with ``-`` written as ``_``, e.g.
    ``jobs=2``, ``set_resources={...}``; a value of ``None`` removes the key).

    Adaptations: a job asking for a GPU (gpu, gpu_model or gres) gets ``gpu`` and the
    cluster's ``gpu`` partition, other partitions become the default one; GPU models,
    gres, constraints, QOS, slurm_extra and accounts are dropped (this cluster has none);
    ``mem_mb`` above half the node's memory is capped; status checks start after 3 s
    instead of 40 s (a job here takes 7-12 s, and the plugin checks again after
    init+10, init+20, ... s while nothing finishes); SLURM logs of successful jobs are
    kept."""
    profile = {}
    if base is not None:
        profile = yaml.safe_load((Path(base) / "config.yaml").read_text()) or {}
    mem_cap = max(100, cluster.real_memory_mb // 2)

    def adapt(res: dict) -> dict:
        res = dict(res)
        wants_gpu = any(res.get(k) for k in ("gpu", "gpu_model", "gres"))
        for key in ("gpu_model", "gres", "constraint", "qos", "slurm_extra", "slurm_account"):
            res.pop(key, None)  # no GPU models, node features, QOS or accounts here
        if wants_gpu:
            res["gpu"] = res.get("gpu") or 1
        if "slurm_partition" in res:
            res["slurm_partition"] = cluster.gpu_partition if wants_gpu else cluster.partition
        if isinstance(res.get("mem_mb"), int):
            res["mem_mb"] = min(res["mem_mb"], mem_cap)
        return res

    if isinstance(profile.get("default-resources"), dict):
        profile["default-resources"] = adapt(profile["default-resources"])
    if isinstance(profile.get("set-resources"), dict):
        profile["set-resources"] = {r: adapt(v or {}) for r, v in profile["set-resources"].items()}
    profile.update(
        {
            "executor": "slurm",
            "slurm-status-command": "squeue",
            "slurm-init-seconds-before-status-checks": 3,
            "slurm-keep-successful-logs": True,
            "latency-wait": 10,
        }
    )
    for key, value in overrides.items():
        key = key.replace("_", "-")
        if value is None:
            profile.pop(key, None)
        else:
            profile[key] = value
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return dest


@dataclass
class SnakemakeRun:
    returncode: int
    output: str  # stdout and stderr together, as a user sees them
    run_id: str | None  # the plugin's "SLURM run ID" (= SLURM job name of its jobs)
    seconds: float


def run_snakemake(cluster: SlurmCluster, workdir: Path, profile: Path, *args: str, timeout: float = 300) -> SnakemakeRun:
    """Run ``snakemake --profile PROFILE --workflow-profile none ARGS`` in ``workdir``
    with a bounded wait. On timeout Snakemake is killed, its jobs cancelled, and the
    test fails with the output so far."""
    cmd = [sys.executable, "-m", "snakemake", "--profile", str(profile), "--workflow-profile", "none", *args]
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=cluster.env(),
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except BaseException as exc:
        if not isinstance(exc, subprocess.TimeoutExpired):  # e.g. Ctrl-C, SIGTERM
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=CMD_TIMEOUT_S)
            raise
        os.killpg(proc.pid, signal.SIGKILL)  # the group of the snakemake we started
        output, _ = proc.communicate(timeout=CMD_TIMEOUT_S)
        m = re.search(r"SLURM run ID: (\S+)", output or "")
        if m:
            cluster.run("scancel", "--name", m.group(1), check=False)
        pytest.fail(
            f"snakemake did not finish within {timeout} s: {' '.join(cmd)}\n{output}\n"
            f"squeue:\n{cluster.run('squeue', check=False).stdout}\n{cluster.daemon_logs()}",
            pytrace=False,
        )
    m = re.search(r"SLURM run ID: (\S+)", output)
    return SnakemakeRun(proc.returncode, output, m.group(1) if m else None, time.monotonic() - start)


# ----------------------------------------------------------------------------- daemons


class _Daemons:
    """The processes the fixture started, stopped by PID."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.stepd_before = _pids_of("slurmstepd")
        self.stopped = False

    def start(self, name: str, argv: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
        with open(log, "ab") as fh:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,  # a Ctrl-C reaches pytest (which tears down), not them
            )
        self.procs.append((name, proc))
        return proc

    def dead(self) -> list[str]:
        return [f"{n} (exit {p.returncode})" for n, p in self.procs if p.poll() is not None]

    def stop(self) -> list[str]:
        """Stop in reverse start order; returns a list of problems (empty if clean)."""
        if self.stopped:
            return []
        self.stopped = True
        problems = []
        # Job steps end about a second after their job; let them report to slurmd first.
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _pids_of("slurmstepd") - self.stepd_before and time.monotonic() < deadline:
            time.sleep(0.2)
        for name, proc in reversed(self.procs):
            if proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                problems.append(f"{name} (pid {proc.pid}) ignored SIGTERM; killed")
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_S)
        # A slurmstepd that appeared while our slurmd ran and is still there is ours.
        for pid in sorted(_pids_of("slurmstepd") - self.stepd_before):
            try:
                os.kill(pid, signal.SIGKILL)
                problems.append(f"left-over slurmstepd pid {pid} killed")
            except ProcessLookupError:
                pass
        return problems


class _EtcFiles:
    """Our files in /etc/slurm, with the previous ones backed up and restored.

    A file that carries MARKER is left over from a run that died without teardown: it
    is not backed up (an existing backup from that run is the original to restore)."""

    def __init__(self) -> None:
        self.entries: list[tuple[Path, Path, bool]] = []  # (path, backup, had_original)

    def write(self, path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        backup = path.with_name(path.name + ".ffnn-test-backup")
        if path.exists() and MARKER not in path.read_text(errors="replace"):
            os.replace(path, backup)
        had_original = backup.exists()
        self.entries.append((path, backup, had_original))
        path.write_text(text)

    def restore(self) -> None:
        for path, backup, had_original in reversed(self.entries):
            try:
                if had_original and backup.exists():
                    os.replace(backup, path)
                else:
                    path.unlink(missing_ok=True)
            except OSError:
                pass
        self.entries.clear()


def _slurmd_hardware(slurmd: str) -> tuple[str, int, int]:
    out = subprocess.run([slurmd, "-C"], capture_output=True, text=True, timeout=CMD_TIMEOUT_S, check=True).stdout
    fields = dict(re.findall(r"(\w+)=(\S+)", out))
    return fields["NodeName"], int(fields["CPUs"]), int(fields["RealMemory"])


def _slurm_conf(d: Path, nodename: str, cpus: int, real_memory: int, ctld_port: int, slurmd_port: int) -> str:
    def_mem = max(100, min(1000, real_memory // max(cpus, 1) // 2))
    return f"""\
{MARKER} for a throw-away one-node cluster; the file
# that was here before (if any) is restored when the tests end.
ClusterName={CLUSTER_NAME}
SlurmctldHost={nodename}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={d / "munge" / "munge.socket"}
StateSaveLocation={d / "state"}
SlurmdSpoolDir={d / "spool"}
SlurmctldPidFile={d / "run" / "slurmctld.pid"}
SlurmdPidFile={d / "run" / "slurmd.pid"}
SlurmctldLogFile={d / "log" / "slurmctld.log"}
SlurmdLogFile={d / "log" / "slurmd.log"}
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc={d / "log" / "jobcomp.txt"}
MinJobAge={MIN_JOB_AGE}
ReturnToService=2
DefMemPerCPU={def_mem}
GresTypes=gpu
NodeName={nodename} NodeAddr=127.0.0.1 NodeHostname={nodename} CPUs={cpus} RealMemory={real_memory} Gres=gpu:{FAKE_GPUS} State=UNKNOWN
PartitionName={PARTITION} Nodes={nodename} Default=YES MaxTime=INFINITE State=UP
PartitionName={GPU_PARTITION} Nodes={nodename} Default=NO MaxTime=INFINITE State=UP
"""


def _gres_conf(nodename: str) -> str:
    # slurmd counts a gres only with a File; /dev/null stands in for the device
    # (task/none binds nothing, so the job sees no GPU).
    return f"""\
{MARKER}: a GPU only in SLURM's books.
AutoDetect=off
NodeName={nodename} Name=gpu File=/dev/null Count={FAKE_GPUS}
"""


def _acquire_lock():
    fh = open(LOCK_PATH, "a+")
    wait_s = float(os.environ.get("FFNN_SLURM_LOCK_WAIT_S", "900"))
    deadline = time.monotonic() + wait_s
    announced = False
    while True:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fh
        except BlockingIOError:
            if time.monotonic() > deadline:
                fh.close()
                pytest.fail(
                    f"another test session holds {LOCK_PATH} (its one-node SLURM) for more than {wait_s:.0f} s",
                    pytrace=False,
                )
            if not announced:
                print(f"slurm_cluster: waiting for {LOCK_PATH} (another session runs the test cluster)")
                announced = True
            time.sleep(1)


@pytest.fixture(scope="session")
def slurm_cluster():
    missing = [p for p in REQUIRED_PROGRAMS if _which(p) is None]
    if missing:
        pytest.skip(
            "one-node SLURM not available: programs not found: " + ", ".join(missing)
            + " (install Debian's slurm-wlm and munge, e.g. with .ci/install-slurm.sh)"
        )
    if os.geteuid() != 0:
        pytest.skip("one-node SLURM needs root (it writes /etc/slurm/slurm.conf and runs slurmd as root)")

    lock = _acquire_lock()
    tmp = Path(tempfile.mkdtemp(prefix="ffnn-slurm-"))
    for sub in ("munge", "state", "spool", "run", "log"):
        (tmp / sub).mkdir(mode=0o700)
    logs = {name: tmp / "log" / f"{name}.log" for name in ("munged", "slurmctld", "slurmd")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env["SLURM_CONF"] = str(SLURM_ETC / "slurm.conf")
    daemons = _Daemons()
    etc = _EtcFiles()

    def teardown() -> list[str]:
        problems = []
        if any(n == "slurmctld" and p.poll() is None for n, p in daemons.procs):
            try:
                subprocess.run(
                    [_which("scancel"), "--full", "--user", "root"], capture_output=True, timeout=CMD_TIMEOUT_S, env=env
                )
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    q = subprocess.run(
                        [_which("squeue"), "-h", "-t", "PD,R,CG"], capture_output=True, text=True,
                        timeout=CMD_TIMEOUT_S, env=env,
                    )
                    if q.returncode != 0 or not q.stdout.strip():
                        break
                    time.sleep(0.5)
            except (OSError, subprocess.SubprocessError) as exc:
                problems.append(f"cancelling jobs failed: {exc}")
        problems += daemons.stop()
        etc.restore()
        return problems

    def on_sigterm(signum, frame):  # let pytest unwind and run this fixture's teardown
        raise KeyboardInterrupt(f"signal {signum}")

    atexit.register(teardown)  # last resort if the session dies without fixture teardown
    previous_sigterm = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        nodename, cpus, real_memory = _slurmd_hardware(_which("slurmd"))
        ctld_port = _free_port()
        slurmd_port = _free_port()
        while slurmd_port == ctld_port:
            slurmd_port = _free_port()

        key = tmp / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        sock = tmp / "munge" / "munge.socket"
        munged = daemons.start(
            "munged",
            [
                _which("munged"), "--foreground", "--force",  # --force: runs as root
                f"--key-file={key}", f"--socket={sock}",
                f"--pid-file={tmp / 'run' / 'munged.pid'}",
                f"--seed-file={tmp / 'munge' / 'munged.seed'}",
                f"--log-file={logs['munged']}",
            ],
            tmp / "log" / "munged.out",
            env,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not sock.exists():
            if munged.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("munged did not create its socket")
            time.sleep(0.1)

        etc.write(SLURM_ETC / "slurm.conf", _slurm_conf(tmp, nodename, cpus, real_memory, ctld_port, slurmd_port))
        etc.write(SLURM_ETC / "gres.conf", _gres_conf(nodename))
        conf = str(SLURM_ETC / "slurm.conf")
        daemons.start("slurmctld", [_which("slurmctld"), "-D", "-f", conf], tmp / "log" / "slurmctld.out", env)
        daemons.start("slurmd", [_which("slurmd"), "-D", "-N", nodename, "-f", conf], tmp / "log" / "slurmd.out", env)

        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if daemons.dead():
                raise RuntimeError("daemon exited during start-up: " + ", ".join(daemons.dead()))
            q = subprocess.run(
                [_which("sinfo"), "-h", "-N", "-o", "%T"], capture_output=True, text=True, env=env, timeout=CMD_TIMEOUT_S
            )
            state = q.stdout.strip() if q.returncode == 0 else f"<sinfo failed: {q.stderr.strip()}>"
            if state.split("\n")[0] in ("idle", "mixed", "allocated"):
                break
            if any(bad in state for bad in ("drain", "inval", "down", "fail")) and q.returncode == 0:
                node = subprocess.run(
                    [_which("scontrol"), "show", "node", nodename], capture_output=True, text=True, env=env,
                    timeout=CMD_TIMEOUT_S,
                ).stdout
                raise RuntimeError(f"node is {state!r}:\n{node}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"node not idle after {START_TIMEOUT_S} s (sinfo says {state!r})")
            time.sleep(0.5)
    except BaseException as exc:  # start-up failed although the programs are installed
        report = [f"one-node SLURM did not start: {exc}"]
        for name in ("munged", "slurmctld", "slurmd"):
            for path in (logs[name], tmp / "log" / f"{name}.out"):
                if path.exists():
                    report.append(f"--- {path} (tail) ---\n{_tail(path)}")
        report += teardown()
        atexit.unregister(teardown)
        signal.signal(signal.SIGTERM, previous_sigterm)
        lock.close()
        if isinstance(exc, KeyboardInterrupt):
            raise
        pytest.fail("\n".join(report), pytrace=False)

    cluster = SlurmCluster(
        partition=PARTITION,
        gpu_partition=GPU_PARTITION,
        nodename=nodename,
        cpus=cpus,
        real_memory_mb=real_memory,
        gpus=FAKE_GPUS,
        tmpdir=tmp,
        conf_path=SLURM_ETC / "slurm.conf",
        jobcomp_path=tmp / "log" / "jobcomp.txt",
        logs=logs,
    )
    try:
        yield cluster
    finally:
        problems = teardown()
        atexit.unregister(teardown)
        signal.signal(signal.SIGTERM, previous_sigterm)
        lock.close()
        still = [f"{n} pid {p.pid}" for n, p in daemons.procs if p.poll() is None]
        if still:
            problems.append("still running after teardown: " + ", ".join(still))
        if problems:
            # Reported, not raised (an error here would hide the test results); the
            # temporary directory with the daemon logs is kept for inspection.
            print(f"slurm_cluster teardown ({tmp}): " + "; ".join(problems))
        else:
            shutil.rmtree(tmp, ignore_errors=True)
